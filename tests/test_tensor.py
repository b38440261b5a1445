"""The Tensor object: construction and dtype rules, attributes, conversions, device moves,
in-place updates, factories, random numbers and printing."""

import copy

import numpy as np
import pytest
import torch

import tinygrad_edu as tg

# ----------------------------------------------------------------------------------------------
# Construction and dtype rules (like torch.tensor)
# ----------------------------------------------------------------------------------------------

CONSTRUCTION = [
    # (data, expected dtype) — torch gives the same dtype for the same Python data
    (1.5, "float32"),
    (3, "int64"),
    (True, "bool"),
    ([1.0, 2.0], "float32"),
    ([1, 2], "int64"),
    ([1, 2.0], "float32"),
    ([[True, False]], "bool"),
    ([], "float32"),
    ([[1, 2], [3, 4]], "int64"),
]


@pytest.mark.parametrize("data, dtype", CONSTRUCTION, ids=str)
def test_python_data_dtypes_match_torch(data, dtype):
    t = tg.tensor(data)
    assert t.dtype == np.dtype(dtype)
    assert str(torch.tensor(data).dtype) == f"torch.{dtype}"
    assert t.tolist() == torch.tensor(data).tolist()
    assert t.shape == tuple(torch.tensor(data).shape)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int32", "uint8",
                                   "bool"])
def test_numpy_arrays_keep_their_dtype(dtype):
    array = np.arange(6).reshape(2, 3).astype(dtype)
    t = tg.tensor(array)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), array)
    assert tg.tensor(np.float64(2.5)).dtype == tg.float64  # NumPy scalars too


def test_explicit_dtype_and_python_type_dtypes():
    assert tg.tensor([1, 2], dtype=tg.float64).dtype == tg.float64
    assert tg.tensor([1.7], dtype=tg.int32).tolist() == [1]
    assert tg.tensor([1], dtype=float).dtype == tg.float64  # like torch: float means float64
    assert tg.tensor([1.0], dtype=int).dtype == tg.int64
    assert tg.tensor([1], dtype=bool).dtype == tg.bool_
    with pytest.raises(TypeError, match="dtype: cannot interpret"):
        tg.tensor([1], dtype="not a dtype")


def test_tensor_copies_its_input_but_from_numpy_shares():
    array = np.zeros(3)
    copied, shared = tg.tensor(array), tg.from_numpy(array)
    array[0] = 7.0
    assert copied.tolist() == [0.0, 0.0, 0.0]
    assert shared.tolist() == [7.0, 0.0, 0.0]
    view = np.zeros((2, 3))[1]
    from_view = tg.tensor(view)
    view[...] = 1.0
    assert from_view.tolist() == [0.0, 0.0, 0.0]
    source = tg.tensor([1.0, 2.0])
    copy = tg.tensor(source)
    source.data[0] = 5.0
    assert copy.tolist() == [1.0, 2.0]


def test_construct_from_tensors_and_the_class():
    t = tg.Tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad_fn is None and t.grad is None
    assert tg.tensor([tg.tensor(1.0), tg.tensor(2.0)]).tolist() == [1.0, 2.0]


# ----------------------------------------------------------------------------------------------
# Attributes and conversions
# ----------------------------------------------------------------------------------------------


def test_attributes():
    t = tg.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dtype == tg.float32
    assert t.device == "cpu" and str(t.device) == "cpu" and t.device == tg.device("cpu")
    assert not t.is_cuda and t.is_floating_point() and not tg.tensor([1]).is_floating_point()
    assert len(t) == 2
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(tg.tensor(1.0))


def test_numpy_item_tolist_array_protocol():
    t = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert isinstance(t.numpy(), np.ndarray) and t.numpy().dtype == np.float32
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert tg.tensor([[5.0]]).item() == 5.0 and isinstance(tg.tensor(5).item(), int)
    assert float(tg.tensor(2.5)) == 2.5 and int(tg.tensor(3)) == 3
    np.testing.assert_array_equal(np.asarray(t), t.numpy())
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match=r"item: only a tensor with one element .* \(2, 2\)"):
        t.item()
    with pytest.raises(RuntimeError, match="truth value of a tensor with 4 elements"):
        bool(t)
    assert bool(tg.tensor([1.0])) is True
    assert list(range(10))[tg.tensor(3)] == 3  # __index__


def test_numpy_refuses_a_tensor_that_requires_grad():
    t = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"numpy: can't call numpy\(\) on a tensor that "
                                           r"requires grad; use tensor.detach\(\).numpy\(\)"):
        t.numpy()
    assert t.detach().numpy().tolist() == [1.0, 1.0]


def test_to_cpu_and_dtype_moves():
    t = tg.tensor([1.5, 2.5], requires_grad=True)
    assert t.to("cpu") is t and t.cpu() is t
    assert t.to(tg.float64).dtype == tg.float64
    assert t.to("cpu", tg.float16).dtype == tg.float16
    assert t.to(dtype=tg.int64).tolist() == [1, 2]
    assert t.to(tg.zeros(1, dtype=tg.float64)).dtype == tg.float64  # to(other)
    assert t.to("cpu", non_blocking=True) is t  # accepted for ported torch code
    copied = t.to("cpu", copy=True)
    assert copied is not t and copied.tolist() == t.tolist()
    y = t.to(tg.float64) * 2
    y.sum().backward()
    assert t.grad.dtype == tg.float32 and t.grad.tolist() == [2.0, 2.0]


def test_detach_shares_memory_and_cuts_the_graph():
    x = tg.ones(3, requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad and y.grad_fn is None
    z = x.detach()
    z.data[0] = 5.0
    assert x.tolist()[0] == 5.0  # same memory, like torch


def test_requires_grad_flag_rules():
    x = tg.ones(2)
    assert x.requires_grad_() is x and x.requires_grad
    with pytest.raises(TypeError, match=r"only floating point tensors can require gradients, "
                                        r"got dtype int64 \(shape \(2,\)\)"):
        tg.tensor([1, 2]).requires_grad_()
    y = x * 2
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    with pytest.raises(RuntimeError, match="requires_grad_: you can only change requires_grad "
                                           "of leaf tensors"):
        y.requires_grad_(False)
    with tg.no_grad():
        assert not (x * 2).requires_grad


def test_in_place_updates_of_leaves_need_no_grad():
    w = tg.ones(3, requires_grad=True)
    for update in (lambda: w.add_(1.0), lambda: w.mul_(2.0), lambda: w.zero_(),
                   lambda: w.fill_(3.0), lambda: w.__setitem__(0, 1.0)):
        with pytest.raises(RuntimeError, match=r"a leaf tensor that requires grad \(shape "
                                               r"\(3,\)\) can't be modified in place while "
                                               r"grad is enabled, nor can a view of it; wrap "
                                               r"the update in tinygrad_edu.no_grad"):
            update()
    with tg.no_grad():
        w.sub_(tg.tensor([0.5, 0.5, 0.5]), alpha=2)
        assert w.tolist() == [0.0, 0.0, 0.0]
        w.add_(1.0).mul_(3.0)
        w[1] = 7.0
        w.copy_(w * 2)
        w += 1
        w /= 3
    assert w.tolist() == pytest.approx([7 / 3, 5.0, 7 / 3])
    assert w.requires_grad and w.is_leaf


def test_in_place_updates_refuse_a_silent_truncation_like_torch():
    t = tg.tensor([1, 2])
    with pytest.raises(RuntimeError, match=r"mul_: result type float32 can't be cast to the "
                                           r"desired output type int64"):
        t.mul_(0.5)
    with pytest.raises(RuntimeError, match="add_: result type float32 can't be cast"):
        t += tg.tensor([0.5, 0.5])
    with pytest.raises(RuntimeError, match="div_: true division gives floats"):
        t /= 2
    t[0] = 5.7  # assignment converts, as in torch
    t.add_(3)
    assert t.tolist() == [8, 5]
    f = tg.ones(2)
    f.add_(tg.tensor([1, 2]))  # int into float is fine
    f.add_([1.0, 1.0], alpha=2)
    assert f.tolist() == [4.0, 5.0]


IN_PLACE_LIKE_TORCH = {
    "bool += True": lambda lib: _iadd(lib.tensor([True, False]), True),
    "bool add_ alpha=2": lambda lib: lib.tensor([False, False]).add_(
        lib.tensor([True, False]), alpha=2),
    "bool *= True": lambda lib: _imul(lib.tensor([True, False]), True),
    "uint8 add_ int64": lambda lib: lib.zeros(3, dtype=lib.uint8).add_(lib.tensor([1, 2, 3])),
    "uint8 add_ alpha=-1 (wraps)": lambda lib: lib.zeros(3, dtype=lib.uint8).add_(
        lib.tensor([1, 2, 3]), alpha=-1),
    "int32 add_ big int64 (wraps)": lambda lib: lib.tensor([1, 2], dtype=lib.int32).add_(
        lib.tensor([2**40, 1])),
    "int64 sub_ alpha=3": lambda lib: lib.tensor([10, 20]).sub_(lib.tensor([1, 2]), alpha=3),
    "float add_ alpha=0.5": lambda lib: lib.ones(2).add_(lib.tensor([1, 2]), alpha=0.5),
    "add_ broadcast (1,)": lambda lib: lib.zeros(2, 3).add_(lib.ones(1)),
    "mul_ broadcast (3,)": lambda lib: lib.ones(2, 3).mul_(lib.tensor([1.0, 2.0, 3.0])),
    "copy_ broadcast (3,)": lambda lib: lib.zeros(2, 3).copy_(lib.tensor([1.0, 2.0, 3.0])),
    "copy_ float64 into float32": lambda lib: lib.zeros(2).copy_(
        lib.tensor([1.25, 2.5], dtype=lib.float64)),
    "copy_ floats into int64 (truncates)": lambda lib: lib.zeros(3, dtype=lib.int64).copy_(
        lib.tensor([1.5, 2.5, -3.5])),
    "setitem (1, 3) into (3,)": lambda lib: _setitem(lib.zeros(3), slice(None),
                                                     lib.ones(1, 3)),
}


def _iadd(t, value):
    t += value
    return t


def _imul(t, value):
    t *= value
    return t


def _setitem(t, index, value):
    t[index] = value
    return t


@pytest.mark.parametrize("name", list(IN_PLACE_LIKE_TORCH))
def test_in_place_updates_of_every_dtype_follow_torch(name):
    ours = IN_PLACE_LIKE_TORCH[name](tg)
    theirs = IN_PLACE_LIKE_TORCH[name](torch)
    assert ours.tolist() == theirs.tolist()
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


def test_setitem_with_tensor_and_list_indices():
    t = tg.zeros(2, 3)
    t[tg.tensor([0, 1]), tg.tensor([2, 0])] = tg.tensor([5.0, 6.0])
    t[[1], [1]] = 4.0
    t[t > 4.5] = -1.0
    assert t.tolist() == [[0.0, 0.0, -1.0], [-1.0, 4.0, 0.0]]


def test_uniform_normal_initializers():
    tg.manual_seed(0)
    w = tg.empty(2000)
    w.uniform_(-2.0, 3.0)
    assert w.numpy().min() >= -2.0 and w.numpy().max() < 3.0
    assert abs(w.numpy().mean() - 0.5) < 0.15
    w.normal_(1.0, 0.5)
    assert abs(w.numpy().mean() - 1.0) < 0.05 and abs(w.numpy().std() - 0.5) < 0.05
    assert w.dtype == tg.float32


# ----------------------------------------------------------------------------------------------
# Factories
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["zeros", "ones", "rand", "randn", "empty"])
def test_shape_factories(name):
    fn = getattr(tg, name)
    for args in [(2, 3), ((2, 3),), ([2, 3],)]:
        t = fn(*args)
        assert t.shape == (2, 3) and t.dtype == tg.float32 and not t.requires_grad
    assert fn(3, dtype=tg.float64).dtype == tg.float64
    assert fn(3, requires_grad=True).requires_grad
    assert fn().shape == ()
    with pytest.raises(ValueError, match=r"size: expected non-negative integers, got \(2, -1\)"):
        fn(2, -1)


def test_zeros_ones_values_and_int_dtype():
    assert tg.zeros(2).tolist() == [0.0, 0.0] and tg.ones(2, dtype=tg.int64).tolist() == [1, 1]
    with pytest.raises(TypeError, match="only floating point tensors can require gradients"):
        tg.zeros(2, dtype=tg.int64, requires_grad=True)


def test_full_like_torch():
    assert tg.full((2, 2), 1.5).dtype == tg.float32
    assert tg.full((2,), 7).dtype == tg.int64 and tg.full((2,), 7).tolist() == [7, 7]
    assert tg.full((2,), True).dtype == tg.bool_
    assert tg.full((1,), 2, dtype=tg.float64).dtype == tg.float64


def test_like_factories_follow_the_source():
    x = tg.tensor([[1, 2]], dtype=tg.int32)
    assert tg.zeros_like(x).dtype == tg.int32 and tg.zeros_like(x).shape == (1, 2)
    assert tg.ones_like(x).tolist() == [[1, 1]]
    assert tg.ones_like(x, dtype=tg.float64).dtype == tg.float64
    y = tg.zeros_like(tg.ones(2), requires_grad=True)
    assert y.requires_grad and y.is_leaf
    assert tg.full_like(x, 4).tolist() == [[4, 4]]
    assert tg.rand_like(tg.ones(3, dtype=tg.float64)).dtype == tg.float64
    assert tg.randn_like(tg.ones(3, 2)).shape == (3, 2)


@pytest.mark.parametrize("args, kwargs", [((5,), {}), ((2, 7), {}), ((1, 10, 3), {}),
                                          ((0, 1, 0.1), {}), ((-1.0, 1.0, 0.25), {}),
                                          ((5,), {"dtype": tg.float64}), ((10, 0, -3), {})],
                         ids=str)
def test_arange_matches_torch(args, kwargs):
    ours = tg.arange(*args, **kwargs)
    th_kwargs = {"dtype": torch.float64} if kwargs else {}
    theirs = torch.arange(*args, **th_kwargs)
    assert str(theirs.dtype) == f"torch.{ours.dtype}"
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_linspace_eye_match_torch():
    np.testing.assert_allclose(tg.linspace(-1, 1, 7).numpy(), torch.linspace(-1, 1, 7).numpy(),
                               atol=1e-7)
    assert tg.linspace(0, 1, 5).dtype == tg.float32
    assert tg.linspace(0, 1, 5, dtype=tg.float64).dtype == tg.float64
    np.testing.assert_array_equal(tg.eye(3).numpy(), torch.eye(3).numpy())
    np.testing.assert_array_equal(tg.eye(2, 4).numpy(), torch.eye(2, 4).numpy())
    assert tg.eye(2, requires_grad=True).requires_grad


def test_randint_forms_like_torch():
    tg.manual_seed(0)
    a = tg.randint(10, (1000,))  # randint(high, size)
    assert a.dtype == tg.int64 and a.shape == (1000,)
    assert a.numpy().min() >= 0 and a.numpy().max() <= 9 and len(set(a.tolist())) == 10
    b = tg.randint(-3, 3, (2, 500))  # randint(low, high, size)
    assert b.numpy().min() == -3 and b.numpy().max() == 2
    assert tg.randint(0, 5, size=(3,), dtype=tg.int32).dtype == tg.int32
    with pytest.raises(ValueError, match="randint: expected low < high"):
        tg.randint(5, 5, (2,))


def test_rand_randn_statistics():
    tg.manual_seed(3)
    u = tg.rand(20000).numpy()
    n = tg.randn(20000).numpy()
    assert 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01
    assert abs(n.mean()) < 0.03 and abs(n.std() - 1.0) < 0.03


def test_manual_seed_reproducibility():
    tg.manual_seed(42)
    first = (tg.rand(3).tolist(), tg.randn(2, 2).tolist(), tg.randint(100, (4,)).tolist())
    tg.manual_seed(42)
    second = (tg.rand(3).tolist(), tg.randn(2, 2).tolist(), tg.randint(100, (4,)).tolist())
    assert first == second
    tg.manual_seed(43)
    assert tg.rand(3).tolist() != first[0]


# ----------------------------------------------------------------------------------------------
# Printing
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor([1.5, 2.0]),
    lambda lib: lib.tensor([1.0, 2.0]),
    lambda lib: lib.tensor([[1, 2], [3, 4]]),
    lambda lib: lib.tensor(3.25),
    lambda lib: lib.tensor([True, False]),
    lambda lib: lib.tensor([0.5, 2.0], requires_grad=True),
    lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64),
    lambda lib: lib.tensor([1, 2], dtype=lib.int32),
], ids=["float", "whole floats", "int", "0-d", "bool", "requires_grad", "float64", "int32"])
def test_repr_reads_like_torch(make):
    ours = repr(make(tg)).replace("dtype=", "dtype=torch.")
    assert ours == repr(make(torch))


def test_repr_names_the_grad_fn():
    x = tg.ones(2, requires_grad=True)
    assert "grad_fn=<MulBackward>" in repr(x * 2)
    assert repr(tg.zeros(1, 1)) == "tensor([[0.]])"


@pytest.mark.parametrize("make, spec", [
    (lambda lib: lib.tensor(2.345), ".2f"),
    (lambda lib: lib.tensor(2.345), ""),
    (lambda lib: lib.tensor(2.345, dtype=lib.float64), ">10.3f"),
    (lambda lib: lib.tensor(-0.000123), ".3e"),
    (lambda lib: lib.tensor(3), "5d"),
    (lambda lib: lib.tensor(3), ""),
    (lambda lib: lib.tensor(True), ""),
    (lambda lib: lib.tensor(2.5, requires_grad=True), ".1f"),
    (lambda lib: lib.tensor(2.5, requires_grad=True) * 2, "+.2f"),
], ids=[".2f", "empty", "float64 >10.3f", ".3e", "int 5d", "int empty", "bool", "leaf",
        "grad_fn"])
def test_format_of_a_0d_tensor_formats_its_value_like_torch(make, spec):
    assert format(make(tg), spec) == format(make(torch), spec)
    assert f"{make(tg):{spec}}" == f"{make(torch):{spec}}"


def test_format_of_a_tensor_with_dims_takes_only_the_empty_spec_like_torch():
    assert f"{tg.tensor([2.345])}" == repr(tg.tensor([2.345]))
    assert format(tg.ones(2, 2), "") == str(tg.ones(2, 2))
    for lib in (tg, torch):
        with pytest.raises(TypeError, match="unsupported format string passed to "
                                            "Tensor.__format__"):
            f"{lib.tensor([2.345]):.2f}"


def test_tensors_are_hashable_by_identity():
    a, b = tg.ones(2), tg.ones(2)
    assert len({a, b}) == 2 and {a: 1}[a] == 1


def test_a_subclass_that_defines_eq_stays_hashable_and_differentiable():
    """Python sets __hash__ to None in a class that defines __eq__; autograd keys its walk by
    tensors, so a Tensor subclass keeps the identity hash and backward works through it."""

    class Tagged(tg.Tensor):
        __slots__ = ()

        def __eq__(self, other):
            return super().__eq__(other)

    x = Tagged(np.array([1.0, 2.0], np.float32), requires_grad=True)
    assert hash(x) == object.__hash__(x)
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


# ----------------------------------------------------------------------------------------------
# copy.deepcopy (torch's protocol: leaves only)
# ----------------------------------------------------------------------------------------------


def test_deepcopy_of_a_non_leaf_is_refused_like_torch():
    """Before: the copy took the graph behind it along, so backward through the copy filled
    copies of the leaves and x.grad silently stayed None."""
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"deepcopy: only tensors created explicitly by the "
                                           r"user \(graph leaves\).*made by Mul"):
        copy.deepcopy(x * 2)
    with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
        copy.deepcopy(torch.tensor([1.0, 2.0], requires_grad=True) * 2)
    copy.deepcopy((x * 2).detach())  # the data alone is fine, as in torch
    with tg.no_grad():
        copy.deepcopy(x * 2)  # no graph recorded: a leaf


@pytest.mark.parametrize("lib", [tg, torch], ids=["tinygrad_edu", "torch"])
def test_deepcopy_of_a_leaf_copies_data_requires_grad_and_grad_like_torch(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    y = copy.deepcopy(x)
    assert y is not x and y.requires_grad and y.is_leaf
    assert y.tolist() == [1.0, 2.0] and y.grad.tolist() == [3.0, 3.0]
    assert y.grad is not x.grad
    with lib.no_grad():
        y.add_(1.0)
        y.grad.add_(1.0)
    assert x.tolist() == [1.0, 2.0] and x.grad.tolist() == [3.0, 3.0]  # nothing shared
    (y * 2).sum().backward()  # the copy is a leaf of its own graphs
    assert y.grad.tolist() == [6.0, 6.0] and x.grad.tolist() == [3.0, 3.0]
    both = copy.deepcopy({"a": x, "b": x})  # the memo: one tensor stays one tensor
    assert both["a"] is both["b"]
    p = copy.deepcopy((tg.nn if lib is tg else torch.nn).Parameter(lib.ones(2)))
    assert type(p).__name__ == "Parameter" and p.requires_grad


def test_torch_short_dtype_names():
    """torch.bool, torch.float, torch.int, torch.short port as they are."""
    import torch

    for name in ("bool", "float", "int", "short", "double", "half", "long"):
        ours, theirs = getattr(tg, name), getattr(torch, name)
        assert tg.zeros(2, dtype=ours).numpy().dtype == torch.zeros(2, dtype=theirs).numpy().dtype


def test_rand_in_float32_never_returns_its_upper_bound():
    # float64 draws just under 1 round up to 1.0 when cast to float32 (about 1 in 3e7)
    from tinygrad_edu.tensor import _below

    draws = np.array([0.0, 0.5, 1 - 1e-12], dtype=np.float64).astype(np.float32)
    assert draws[-1] == 1.0
    assert _below(draws, 0.0, 1.0).tolist() == [0.0, 0.5, np.nextafter(np.float32(1), 0)]
    assert float(tg.rand(100_000).max()) < 1.0
    assert float(tg.empty(1000).uniform_(-2.0, 3.0).max()) < 3.0
