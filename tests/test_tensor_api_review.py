"""Review of the Tensor class and the creation functions (tensor.py) against torch 2.13: tensor()
dtype inference and refusals, the factories' argument forms, type promotion, the Tensor
methods and protocols (contains, contiguous, view(dtype), mT/H/mH, ...), indexing with
gradients. One regression test per bug fixed; xfail(strict) tests for bugs in other files."""

import importlib

import numpy as np
import pytest
import torch

import tinygrad_edu as tg

TM = importlib.import_module("tinygrad_edu.tensor")  # the module (tg.tensor is the function)

TORCH_DTYPES = {np.dtype(n): getattr(torch, n) for n in (
    "bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64",
    "complex64", "complex128")}


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.detach().data)


def _same(ours, theirs, exact=True):
    """Equal values, shapes and dtypes (torch's dtype mapped to NumPy's)."""
    a, b = _np(ours), _np(theirs)
    assert (a.shape, a.dtype) == (b.shape, b.dtype), (a.shape, a.dtype, b.shape, b.dtype)
    if exact:
        np.testing.assert_array_equal(a, b)
    elif a.dtype == np.float16:  # torch divides by a scalar as a product with its reciprocal
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def _as_torch(v):
    return torch.tensor(v.data) if isinstance(v, tg.Tensor) else v


# ------------------------------------------------------------------------------------------------
# tensor(): dtype inference and refusals
# ------------------------------------------------------------------------------------------------

INFERENCE = [
    [True, False], [1, 2, 3], [1.0, 2.5], [1, 2.5], [True, 2], [True, 2.5], [[1, 2], [3, 4.0]],
    [], [[]], [[], []], 3, 3.5, True, (1, 2), range(4), [float("nan"), float("inf")],
    # NumPy scalars and arrays inside a list keep their dtype (bug: float64 became float32)
    [np.float64(1), np.float64(2)], [1.0, np.float64(2)], [np.float32(1), 2.0],
    [np.float16(2), 1], [np.float16(2), 1.0], [np.float32(1), np.int64(2)],
    [np.int32(1), np.int32(2)], [np.int32(2), 1], [np.int8(2), True], [np.uint8(2), np.int8(1)],
    [np.array([1.0, 2.0]), [3.0, 4.0]], [[np.float64(1)], [2.0]],
    # complex numbers: the default float's complex twin (bug: complex128)
    [1 + 2j], 1j, [1, 1j],
]


@pytest.mark.parametrize("data", INFERENCE, ids=repr)
def test_tensor_infers_the_dtype_torch_infers(data):
    _same(tg.tensor(data), torch.tensor(data))


def test_tensor_from_a_list_of_float64_tensors_stays_float64():
    ours = tg.tensor([tg.tensor(1.0, dtype=tg.float64), tg.tensor(2.0, dtype=tg.float64)])
    assert ours.dtype == np.float64
    assert tg.tensor([tg.tensor(1, dtype=tg.int32), 2]).dtype == np.int64  # torch: int64
    assert tg.tensor([tg.tensor(1.5, dtype=tg.float16), 2]).dtype == np.float16


def test_tensor_infers_float64_under_a_float64_default():
    old = tg.get_default_dtype()
    tg.set_default_dtype(tg.float64)
    try:
        assert tg.tensor([1.0, 2]).dtype == np.float64
        assert tg.tensor([1j]).dtype == np.complex128
    finally:
        tg.set_default_dtype(old)


@pytest.mark.parametrize("dtype", ["bool", "int8", "int16", "int32", "int64", "uint8",
                                   "float16", "float32", "float64"])
def test_tensor_from_numpy_keeps_the_dtype_and_copies(dtype):
    arr = np.arange(4).astype(dtype)
    for src in (arr, arr[1], np.array(arr[1])):
        _same(tg.tensor(src), torch.tensor(src))
    t = tg.tensor(arr[::2])
    arr[0] = 3
    assert t.tolist() == torch.tensor(np.arange(4).astype(dtype)[::2]).tolist()


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool", "float16"])
def test_tensor_with_a_dtype(dtype):
    data = [1.7, 0, -2.2]
    _same(tg.tensor(data, dtype=dtype), torch.tensor(data, dtype=TORCH_DTYPES[np.dtype(dtype)]))


@pytest.mark.parametrize("bad, error", [
    ("abc", TypeError), (["a"], TypeError), (None, TypeError), ([1, None], TypeError),
    (np.array([1, "a"], dtype=object), TypeError),
    ([[1, 2], [3]], ValueError), ([1, [2]], ValueError),
    (2**64, RuntimeError), ([2**63], RuntimeError),
], ids=repr)
def test_tensor_refuses_data_that_is_not_numbers(bad, error):
    """Bug: strings, None and objects made tensors of dtype <U3 / object; a ragged list gave
    NumPy's message and a too-large int an OverflowError or a silent uint64."""
    with pytest.raises(error, match="tensor: "):
        tg.tensor(bad)
    with pytest.raises(Exception):  # noqa: B017 - torch refuses them all (types vary)
        torch.tensor(bad)


def test_tensor_values_that_do_not_fit_the_dtype_are_refused_like_torch():
    for data, dtype in (([300], "uint8"), ([-2.2], "uint8"), ([float("nan")], "int64")):
        with pytest.raises(RuntimeError, match="tensor: a value can't be converted"):
            tg.tensor(data, dtype=dtype)
        with pytest.raises(RuntimeError):
            torch.tensor(data, dtype=TORCH_DTYPES[np.dtype(dtype)])


def test_requires_grad_only_for_floating_tensors():
    for data in ([1, 2], [True]):
        with pytest.raises(TypeError, match="only floating point tensors can require"):
            tg.tensor(data, requires_grad=True)
        with pytest.raises(RuntimeError):
            torch.tensor(data, requires_grad=True)
    assert tg.tensor([1], dtype=tg.float32, requires_grad=True).requires_grad
    with pytest.raises(TypeError):
        tg.arange(3, requires_grad=True)


# ------------------------------------------------------------------------------------------------
# Factories
# ------------------------------------------------------------------------------------------------

SIZES = [(2, 3), ((2, 3),), ([2, 3],), (0,), ((),), (torch.Size([2, 3]),), (np.int64(2), 3)]


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
@pytest.mark.parametrize("args", SIZES, ids=repr)
def test_factory_size_forms(name, args):
    ours, theirs = getattr(tg, name)(*args), getattr(torch, name)(*args)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == np.float32
    if name in ("zeros", "ones"):
        _same(ours, theirs)


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_factory_size_keyword_dtype_and_requires_grad(name):
    """Bug: ``zeros(size=(2, 3))`` (torch's keyword) was a TypeError."""
    ours = getattr(tg, name)(size=(2, 3), dtype=tg.float64, requires_grad=True)
    theirs = getattr(torch, name)(size=(2, 3), dtype=torch.float64, requires_grad=True)
    assert (ours.shape, ours.dtype, ours.requires_grad) == ((2, 3), np.float64, True)
    assert (tuple(theirs.shape), theirs.requires_grad) == ((2, 3), True)
    with pytest.raises(TypeError, match="size: given both"):
        getattr(tg, name)(2, size=(2, 3))


@pytest.mark.parametrize("name", ["zeros", "rand"])
def test_factory_bad_sizes(name):
    with pytest.raises(TypeError, match=r"size: expected integers, got \(2.0, 3\)"):
        getattr(tg, name)(2.0, 3)
    with pytest.raises(TypeError):
        getattr(torch, name)(2.0, 3)
    with pytest.raises(ValueError, match="non-negative"):
        getattr(tg, name)(2, -1)


@pytest.mark.parametrize("name", ["rand", "randn", "rand_like", "randn_like"])
def test_random_floats_refuse_an_integer_dtype(name):
    """Bug: ``rand(3, dtype=int64)`` drew floats in [0, 1) and truncated them: all zeros."""
    for dtype in (tg.int64, tg.bool_):
        args = (tg.zeros(3, dtype=dtype),) if name.endswith("_like") else (3,)
        kwargs = {} if name.endswith("_like") else {"dtype": dtype}
        with pytest.raises(TypeError, match="expected a floating-point dtype"):
            getattr(TM, name)(*args, **kwargs)
    with pytest.raises(NotImplementedError):
        torch.rand(3, dtype=torch.int64)


def test_like_factories():
    x = np.arange(6.0).reshape(2, 3)
    for arr in (x, x.astype(np.float32), np.arange(3), np.array([True])):
        a, b = tg.tensor(arr), torch.tensor(arr)
        _same(tg.zeros_like(a), torch.zeros_like(b))
        _same(tg.ones_like(a), torch.ones_like(b))
        _same(tg.full_like(a, 2), torch.full_like(b, 2))
        assert TM.empty_like(a).shape == a.shape and TM.empty_like(a).dtype == a.dtype
    _same(tg.full_like(tg.tensor([1, 2]), 2.7), torch.full_like(torch.tensor([1, 2]), 2.7))
    _same(tg.zeros_like(tg.tensor([1]), dtype=tg.float32),
          torch.zeros_like(torch.tensor([1]), dtype=torch.float32))
    ours = tg.rand_like(tg.zeros(2), requires_grad=True)
    assert ours.requires_grad and torch.rand_like(torch.zeros(2), requires_grad=True).requires_grad
    assert tg.randn_like(tg.zeros(2, dtype=tg.float64)).dtype == np.float64
    r = TM.randint_like(tg.zeros(500, dtype=tg.int32), 3, 6)
    assert r.dtype == np.int32 and set(r.tolist()) == {3, 4, 5}
    assert set(TM.randint_like(tg.zeros(200), 2).tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("fill", [3, 3.0, True, 1.5, np.float32(1), np.float64(1), np.int32(1),
                                  np.uint8(3), 1 + 2j, -0.0], ids=repr)
def test_full_infers_the_dtype_from_the_fill_value(fill):
    """Bug: a NumPy int32/uint8 fill gave int32/uint8 (torch: int64) and a complex one
    complex128 (torch: complex64)."""
    _same(tg.full((2,), fill), torch.full((2,), fill))


def test_full_argument_forms_and_refusals():
    _same(tg.full((2, 3), 1.5, dtype=tg.int64), torch.full((2, 3), 1.5, dtype=torch.int64))
    _same(tg.full((), 2.5), torch.full((), 2.5))
    _same(tg.full(size=(2,), fill_value=7), torch.full(size=(2,), fill_value=7))
    _same(tg.full((2,), tg.tensor(3.0, dtype=tg.float64)), torch.full((2,), torch.tensor(3.0)))
    assert tg.full((2,), 1.0, requires_grad=True).requires_grad
    # a value an integer dtype can't hold: refused, as in torch (bug: filled with garbage)
    for fill, dtype in ((float("nan"), "int64"), (2**40, "int32"), (float("inf"), "int64")):
        with pytest.raises(RuntimeError, match="without overflow"):
            tg.full((2,), fill, dtype=dtype)
        with pytest.raises(RuntimeError):
            torch.full((2,), fill, dtype=TORCH_DTYPES[np.dtype(dtype)])
    with pytest.raises(RuntimeError, match="full_like: fill_value inf"):
        TM.full_like(tg.tensor([1, 2]), float("inf"))


ARANGE = [(5,), (1, 5), (0, 5, 2), (0.0, 1.0, 0.1), (1, 2.5, 0.5), (5, 0, -1), (0, 1, 0.3),
          (np.int32(3),), (1.5,), (0, -3, -1.5), (0, 0), (0, 0, -1), (-1, 1, 0.1),
          (np.float64(3),), (True,)]


@pytest.mark.parametrize("args", ARANGE, ids=repr)
def test_arange_matches_torch(args):
    _same(tg.arange(*args), torch.arange(*args), exact=False)


def test_arange_argument_forms():
    """Bugs: ``arange(end=4)`` needed start; a 0-d tensor bound gave float32 (torch: int64);
    with an integer dtype the float arguments were not truncated first (torch: arange(0, 5,
    1.5, dtype=int64) is 0..4)."""
    _same(tg.arange(end=4), torch.arange(end=4))
    _same(tg.arange(start=1, end=4), torch.arange(start=1, end=4))
    _same(tg.arange(tg.tensor(3)), torch.arange(torch.tensor(3)))
    _same(tg.arange(tg.tensor(1.0), 3), torch.arange(torch.tensor(1.0), 3))
    for args in ((0.5, 3.7, 1), (0, 5, 1.5), (-2.5, 2)):
        _same(tg.arange(*args, dtype=tg.int64), torch.arange(*args, dtype=torch.int64))
    _same(tg.arange(5, dtype=tg.float64), torch.arange(5, dtype=torch.float64))
    _same(tg.arange(16777216, 16777220, dtype=tg.float32),
          torch.arange(16777216, 16777220, dtype=torch.float32))
    assert tg.arange(3.0, requires_grad=True).requires_grad


@pytest.mark.parametrize("args, kwargs, match", [
    ((10, 0), {}, "inconsistent with step sign"), ((0, 10, -1), {}, "inconsistent"),
    ((-1,), {}, "inconsistent"), ((0, 5, 0), {}, "step must be nonzero"),
    ((0, 2, 0.5), {"dtype": "int64"}, "step must be nonzero"),
    ((0, float("inf")), {}, "unsupported range"), ((0, float("nan")), {}, "unsupported range"),
], ids=repr)
def test_arange_refuses_what_torch_refuses(args, kwargs, match):
    """Bug: an empty tensor (or ZeroDivisionError / NumPy's ValueError) instead."""
    with pytest.raises(RuntimeError, match=f"arange: .*{match}"):
        tg.arange(*args, **kwargs)
    tkwargs = {k: getattr(torch, v) for k, v in kwargs.items()}
    with pytest.raises((RuntimeError, ValueError)):
        torch.arange(*args, **tkwargs)


@pytest.mark.parametrize("args", [(0, 1, 5), (0, 1, 1), (0, 1, 0), (3, 3, 4), (1, 0, 5),
                                  (-1, 1, 7), (0, 1, np.int64(3))], ids=repr)
def test_linspace_logspace(args):
    _same(tg.linspace(*args), torch.linspace(*args), exact=False)
    _same(tg.logspace(*args), torch.logspace(*args), exact=False)
    _same(tg.logspace(*args, base=2), torch.logspace(*args, base=2), exact=False)


def test_linspace_logspace_forms_and_errors():
    _same(tg.linspace(0, 10, 4, dtype=tg.int64), torch.linspace(0, 10, 4, dtype=torch.int64))
    # bug: NumPy's start + k h was off by one ulp from torch's two-ended formula
    for args in ((0, 1, 7), (1, 0, 6), (2, 3, 1)):
        _same(tg.linspace(*args, dtype=tg.float64), torch.linspace(*args, dtype=torch.float64))
    _same(tg.linspace(-3.3, 7.1, 11, dtype=tg.float64),
          torch.linspace(-3.3, 7.1, 11, dtype=torch.float64), exact=False)
    _same(tg.linspace(tg.tensor(0.0), tg.tensor(1.0), steps=3),
          torch.linspace(torch.tensor(0.0), torch.tensor(1.0), steps=3))
    for fn in ("linspace", "logspace"):
        with pytest.raises(RuntimeError, match=f"{fn}: number of steps must be non-negative"):
            getattr(tg, fn)(0, 1, -1)
        with pytest.raises(RuntimeError):
            getattr(torch, fn)(0, 1, -1)
        with pytest.raises(TypeError, match="integer number of steps"):
            getattr(tg, fn)(0, 1, 2.0)


def test_eye():
    for args in ((3,), (2, 3), (0,), (3, 0)):
        _same(tg.eye(*args), torch.eye(*args))
    _same(tg.eye(2, dtype=tg.int64), torch.eye(2, dtype=torch.int64))
    _same(tg.eye(2, m=3, dtype=tg.bool_), torch.eye(2, m=3, dtype=torch.bool))
    with pytest.raises(RuntimeError, match="eye: n must be greater or equal to 0, got -1"):
        tg.eye(-1)
    with pytest.raises(RuntimeError):
        torch.eye(-1)
    with pytest.raises(TypeError, match="eye: expected an integer n"):
        tg.eye(2.5)


def test_randint_and_randperm():
    for ours, theirs in ((tg.randint(5, (3,)), torch.randint(5, (3,))),
                         (tg.randint(2, 5, (3,)), torch.randint(2, 5, (3,))),
                         (tg.randint(5, size=(2,)), torch.randint(5, size=(2,))),
                         (tg.randint(low=1, high=5, size=(2,)),
                          torch.randint(low=1, high=5, size=(2,)))):
        assert ours.shape == tuple(theirs.shape) and ours.dtype == np.int64
    r = tg.randint(0, 4, (200,), dtype=tg.float32, requires_grad=True)  # torch accepts both
    assert r.requires_grad and r.dtype == np.float32 and set(r.tolist()) == {0, 1, 2, 3}
    assert tg.randint(0, 256, (50,), dtype=tg.uint8).dtype == np.uint8
    with pytest.raises(RuntimeError, match=r"randint: the range \[0, 300\) does not fit"):
        tg.randint(0, 300, (2,), dtype=tg.uint8)
    with pytest.raises(RuntimeError):
        torch.randint(0, 300, (2,), dtype=torch.uint8)
    p = tg.randperm(6)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(6))
    assert tg.randperm(0).shape == (0,) and tg.randperm(3, dtype=tg.float32).dtype == np.float32
    with pytest.raises(TypeError, match="randperm: expected an integer n, got 2.0"):
        tg.randperm(2.0)
    with pytest.raises(TypeError):
        torch.randperm(2.0)


# ------------------------------------------------------------------------------------------------
# Type promotion of binary ops
# ------------------------------------------------------------------------------------------------

DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64"]


def _arr(dtype, shape):
    return (np.arange(1, 1 + int(np.prod(shape))).reshape(shape) % 3 + 1).astype(dtype)


@pytest.mark.parametrize("d1", DTYPES)
def test_promotion_between_tensors_and_0d_tensors(d1):
    ops = (lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a / b, lambda a, b: a < b)
    for d2 in DTYPES:
        for s1, s2 in (((3,), (3,)), ((3,), ()), ((), (3,)), ((), ())):
            a, b = _arr(d1, s1), _arr(d2, s2)
            for op in ops:
                _same(op(tg.tensor(a), tg.tensor(b)), op(torch.tensor(a), torch.tensor(b)),
                      exact=False)


@pytest.mark.parametrize("d1", DTYPES)
def test_promotion_with_python_scalars(d1):
    ops = (lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a / b, lambda a, b: a // b,
           lambda a, b: a == b)
    for shape in ((3,), ()):
        a = _arr(d1, shape)
        for s in (True, 2, 2.5, 0.5):
            for op in ops:
                if d1 == "bool" and op is ops[3]:
                    continue  # torch has no bool floor division
                _same(op(tg.tensor(a), s), op(torch.tensor(a), s), exact=False)
                _same(op(s, tg.tensor(a)), op(s, torch.tensor(a)), exact=False)


def test_promotion_examples_and_gradients():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    k, kt = tg.tensor([3, 4]), torch.tensor([3, 4])
    y, yt = (x * k + 0.5 * k) / tg.tensor(2.0, dtype=tg.float64), (xt * kt + 0.5 * kt) / 2.0
    _same(y, yt, exact=False)
    y.sum().backward()
    yt.sum().backward()
    _same(x.grad, xt.grad, exact=False)
    _same(tg.tensor([1]) + 2.5, torch.tensor([1]) + 2.5)  # int + float scalar: default float
    _same(tg.tensor([1], dtype=tg.float16) + tg.tensor([2.0]),
          torch.tensor([1], dtype=torch.float16) + torch.tensor([2.0]))
    _same(tg.tensor([1]) * np.float32(2.5), torch.tensor([1]) * np.float32(2.5))


# ------------------------------------------------------------------------------------------------
# Tensor methods and properties
# ------------------------------------------------------------------------------------------------

X = np.arange(24.0).reshape(2, 3, 4)


def test_shape_size_dim_numel():
    a, b = tg.tensor(X), torch.tensor(X)
    assert a.shape == tuple(b.shape) and a.size() == tuple(b.size())
    for d in (0, 1, 2, -1, -3):
        assert a.size(d) == b.size(d)
    assert a.size(dim=1) == b.size(dim=1) == 3
    assert (a.dim(), a.ndim, a.numel()) == (b.dim(), b.ndim, b.numel())
    assert tg.tensor(1.0).size() == () and tg.tensor(1.0).numel() == 1
    with pytest.raises(IndexError):
        a.size(3)
    assert str(a.device) == "cpu"


def test_transposes():
    a, b = tg.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    _same(a[0].T, b[0].T)
    _same(a.mT, b.mT)
    _same(a.mH, b.mH)
    _same(a[0].H, b[0].H)
    (a.mT * tg.tensor(np.arange(24.0).reshape(2, 4, 3))).sum().backward()
    (b.mT * torch.tensor(np.arange(24.0).reshape(2, 4, 3))).sum().backward()
    _same(a.grad, b.grad)
    with pytest.raises(RuntimeError, match=r"mT: expected a matrix .* 1-D tensor"):
        tg.tensor([1.0, 2.0]).mT  # noqa: B018
    with pytest.raises(RuntimeError):
        torch.tensor([1.0, 2.0]).mT  # noqa: B018
    with pytest.raises(RuntimeError, match="H: expected a matrix"):
        a.H  # noqa: B018


@pytest.mark.parametrize("value", [np.array(1.5, np.float32), np.array([2.5]), np.array([[3]]),
                                   np.array(True), np.array(np.float16(1.5))], ids=repr)
def test_scalar_conversions(value):
    a, b = tg.tensor(value), torch.tensor(value)
    assert a.item() == b.item() and type(a.item()) is type(b.item())
    assert a.tolist() == b.tolist()
    assert float(a) == float(b) and int(a) == int(b) and bool(a) == bool(b)
    if a.ndim == 0:
        assert f"{a:.2f}" == f"{b:.2f}"
    else:  # torch formats only 0-d tensors with a spec
        with pytest.raises(TypeError):
            f"{a:.2f}"
        with pytest.raises(TypeError):
            f"{b:.2f}"


def test_conversions_refused():
    with pytest.raises(ValueError, match="item: only a tensor with one element"):
        tg.tensor([1, 2]).item()
    with pytest.raises(RuntimeError, match="bool: the truth value of a tensor with 3 elements"):
        bool(tg.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError):
        bool(torch.tensor([1.0, 2.0, 3.0]))
    assert bool(tg.tensor([0.0])) is False and bool(tg.tensor(float("nan"))) is True
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(tg.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(tg.tensor(1.0))
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        [1, 2][tg.tensor(1.0)]
    with pytest.raises(TypeError):
        [1, 2][torch.tensor(1.0)]
    with pytest.raises(TypeError):
        [1, 2][tg.tensor([1, 0])]


def test_index_protocol_and_format():
    assert [10, 20, 30][tg.tensor(2)] == 30 and [10, 20][tg.tensor([1])] == 20
    assert list(range(tg.tensor(3))) == [0, 1, 2] and hex(tg.tensor(255)) == "0xff"
    assert f"{tg.tensor(3):d}" == f"{torch.tensor(3):d}"
    assert f"{tg.tensor(3.0, requires_grad=True):.1f}" == "3.0"
    assert f"{tg.tensor([1.5, 2.0])}" == repr(tg.tensor([1.5, 2.0])) == "tensor([1.5000, 2.0000])"
    with pytest.raises(TypeError):
        f"{tg.tensor([1.5, 2.0]):.2f}"
    with pytest.raises(TypeError):
        f"{torch.tensor([1.5, 2.0]):.2f}"


def test_repr_matches_torch_for_common_cases():
    for v in ([1.5, 2.25], [1.0, 2.0], 3.0, [1, 2], [[1.0, 2.0], [3.0, 4.0]], [], [-0.0],
              [0.5, -1.0]):
        assert repr(tg.tensor(v)) == repr(torch.tensor(v))
    assert repr(tg.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(tg.tensor([1], dtype=tg.int32)) == "tensor([1], dtype=int32)"


@pytest.mark.parametrize("method", ["float", "double", "long", "int", "bool", "half", "short",
                                    "byte", "char"])
def test_dtype_methods(method):
    """Bug: short(), byte() and char() were missing."""
    for arr in (np.array([1.7, -0.3, 0.0]), np.array([True, False]), np.array([3, 2])):
        _same(getattr(tg.tensor(arr), method)(), getattr(torch.tensor(arr), method)())


@pytest.mark.parametrize("name", ["float32", "float64", "int64", "bool", "float16", "uint8"])
def test_to_type_type_as(name):
    a, b = tg.tensor(X), torch.tensor(X)
    dtype, tdt = np.dtype(name), TORCH_DTYPES[np.dtype(name)]
    _same(a.to(dtype), b.to(tdt))
    _same(a.to(dtype=dtype), b.to(dtype=tdt))
    _same(a.type(dtype), b.type(tdt))
    _same(a.type_as(tg.zeros(1, dtype=dtype)), b.type_as(torch.zeros(1, dtype=tdt)))
    _same(a.to("cpu", dtype), b.to("cpu", tdt))


def test_to_identity_copy_and_grad():
    a = tg.tensor(X, requires_grad=True)
    assert a.to(tg.float64) is a and a.double() is a and a.to(tg.float64, copy=True) is not a
    y = a.float()
    assert y.dtype == np.float32 and y.requires_grad
    y.sum().backward()
    assert a.grad.dtype == np.float64 and np.all(a.grad.numpy() == 1)


def test_numpy_array_protocol():
    a = tg.tensor([1.5, 2.5])
    a.numpy()[0] = 9.0  # shares memory, as torch's
    assert a.tolist() == [9.0, 2.5]
    assert np.asarray(a, dtype=np.float64).dtype == np.float64
    c = np.array(a)  # bug: NumPy 2 asks __array__ for a copy, which shared a's memory
    c[1] = -1.0
    assert a.tolist() == [9.0, 2.5]
    assert np.shares_memory(np.asarray(a), a.data)
    g = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="numpy: can't call numpy"):
        g.numpy()
    assert g.numpy(force=True).tolist() == [1.0]  # bug: no force argument
    assert torch.tensor([1.0], requires_grad=True).numpy(force=True).tolist() == [1.0]


def test_clone_detach():
    a, b = tg.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    c, ct = a.clone(), b.clone()
    assert (c.requires_grad, c.is_leaf) == (ct.requires_grad, ct.is_leaf) == (True, False)
    (c * 3).sum().backward()
    (ct * 3).sum().backward()
    _same(a.grad, b.grad)
    d = a.detach()
    assert not d.requires_grad and d.is_leaf
    d[0, 0, 0] = 100.0  # shares memory
    assert a.data[0, 0, 0] == 100.0
    e = tg.tensor([1.0, 2.0])
    c2 = e.clone()
    c2[0] = 7.0
    assert e.tolist() == [1.0, 2.0]
    y = tg.tensor([1.0, 2.0], requires_grad=True) * 2
    assert y.detach_() is y and not y.requires_grad and y.is_leaf
    leaf = tg.tensor([1.0], requires_grad=True)
    leaf.detach_()
    assert not leaf.requires_grad


def test_contiguous_copies_a_non_contiguous_tensor():
    """Bug: contiguous() returned self even for a transposed tensor, so is_contiguous() stayed
    False and the strides were the transposed ones; torch returns a contiguous copy."""
    a, b = tg.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    ya, yb = a.transpose(0, 1), b.transpose(0, 1)
    assert ya.is_contiguous() == yb.is_contiguous() is False
    ca, cb = ya.contiguous(), yb.contiguous()
    assert ca.is_contiguous() and ca.stride() == cb.stride() == (8, 4, 1)
    _same(ca, cb)
    u = np.random.default_rng(0).standard_normal(ca.shape)
    (ca * tg.tensor(u)).sum().backward()
    (cb * torch.tensor(u)).sum().backward()
    _same(a.grad, b.grad)
    assert a.contiguous() is a and b.contiguous() is b


def test_view_dtype():
    """Bug: ``view(dtype)`` (reinterpret the bytes) was an error."""
    x = np.array([[1.0, 2.0], [3.0, -4.0]], dtype=np.float32)
    a, b = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    _same(a.view(tg.int32), b.view(torch.int32))
    _same(a.view(tg.float16), b.view(torch.float16))
    _same(a.view("uint8"), b.view(torch.uint8))
    assert not a.view(tg.float32).requires_grad and not b.view(torch.float32).requires_grad
    with pytest.raises(RuntimeError, match="view: can't view a tensor of dtype float32"):
        tg.tensor([1.0, 2.0, 3.0]).view(tg.float64)
    with pytest.raises(RuntimeError):
        torch.tensor([1.0, 2.0, 3.0]).view(torch.float64)


SHAPE_METHODS = [
    ("view(6,4)", lambda t: t.view(6, 4)), ("view((-1,))", lambda t: t.view((-1,))),
    ("view_as", lambda t: t.view_as(t.reshape(4, 6))),
    ("expand", lambda t: t[:, :1].expand(2, 3, 4)),
    ("expand -1", lambda t: t[:1].expand(-1, 3, 4)),
    ("expand new dims", lambda t: t[0, 0].expand(2, 3, 4)),
    ("expand_as", lambda t: t[:1].expand_as(t)), ("repeat", lambda t: t.repeat(1, 2, 1, 2)),
    ("repeat tuple", lambda t: t.repeat((2, 1, 1))), ("flatten", lambda t: t.flatten()),
    ("flatten(1)", lambda t: t.flatten(1)), ("flatten(0, 1)", lambda t: t.flatten(0, 1)),
    ("unflatten", lambda t: t.unflatten(2, (2, -1))), ("unsqueeze(-1)", lambda t: t.unsqueeze(-1)),
    ("unsqueeze(1)", lambda t: t.unsqueeze(1)),
    ("squeeze(tuple)", lambda t: t.reshape(1, 2, 1, 12, 1).squeeze((0, 2))),
    ("squeeze()", lambda t: t.reshape(1, 2, 1, 12, 1).squeeze()),
    ("squeeze(-1)", lambda t: t.reshape(1, 2, 1, 12, 1).squeeze(-1)),
    ("chunk", lambda t: t.chunk(2, 2)), ("chunk uneven", lambda t: t.chunk(2, 1)),
    ("split", lambda t: t.split(3, 2)), ("split sizes", lambda t: t.split([1, 2], 1)),
    ("split_with_sizes", lambda t: t.split_with_sizes([1, 3], dim=2)),
    ("unbind", lambda t: t.unbind(1)), ("iter", lambda t: list(t)),
]


@pytest.mark.parametrize("name, fn", SHAPE_METHODS, ids=[n for n, _ in SHAPE_METHODS])
def test_shape_methods_forward_and_backward(name, fn):
    a, b = tg.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    ya, yb = fn(a), fn(b)
    ya, yb = (list(ya), list(yb)) if isinstance(yb, (tuple, list)) else ([ya], [yb])
    assert len(ya) == len(yb)
    rng = np.random.default_rng(0)
    us = [rng.standard_normal(tuple(q.shape)) for q in yb]
    for p, q in zip(ya, yb):
        _same(p, q)
    sum((p * tg.tensor(u)).sum() for p, u in zip(ya, us)).backward()
    sum((q * torch.tensor(u)).sum() for q, u in zip(yb, us)).backward()
    _same(a.grad, b.grad, exact=False)


def test_contains():
    """Bug: ``2 in t`` for a 2-D t raised "the truth value ... is ambiguous" (Python fell back
    to iterating over rows); torch's rule is ``(t == element).any()``."""
    a, b = tg.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    for e in (2, 5, 4.0):
        assert (e in a) == (e in b)
    assert (tg.tensor(2.0) in a) == (torch.tensor(2.0) in b) is True
    assert (tg.tensor([1.0, 2.0]) in a) == (torch.tensor([1.0, 2.0]) in b) is True
    assert (tg.tensor([1.0, 5.0]) in a) == (torch.tensor([1.0, 5.0]) in b) is True
    with pytest.raises(RuntimeError, match="contains: expected a Tensor or a number, got str"):
        "a" in a  # noqa: B015
    with pytest.raises(RuntimeError):
        "a" in b  # noqa: B015


def test_eq_none_hash_and_identity():
    a = tg.tensor([1.0, 2.0])
    assert (a == None) is False and (a != None) is True  # noqa: E711
    assert (torch.tensor([1.0]) == None) is False  # noqa: E711
    b = tg.tensor([1.0, 2.0])
    assert hash(a) != hash(b) and len({a: 1, b: 2}) == 2 and {a: 1}[a] == 1
    assert a in [a] and a in {a}


def test_iteration_is_differentiable():
    a, b = tg.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    sum(r.sum() * (i + 1) for i, r in enumerate(a)).backward()
    sum(r.sum() * (i + 1) for i, r in enumerate(b)).backward()
    _same(a.grad, b.grad)
    assert len(a) == 2 and [r.shape for r in reversed(a)] == [(3, 4), (3, 4)]


def test_new_factories():
    a, b = tg.tensor([1.0], dtype=tg.float64), torch.tensor([1.0], dtype=torch.float64)
    _same(a.new_zeros(2, 3), b.new_zeros(2, 3))
    _same(a.new_ones((2,)), b.new_ones((2,)))
    _same(a.new_full((2,), 3), b.new_full((2,), 3))
    _same(a.new_tensor([1, 2]), b.new_tensor([1, 2]))
    _same(a.new_zeros(2, dtype=tg.int64), b.new_zeros(2, dtype=torch.int64))


# ------------------------------------------------------------------------------------------------
# Indexing: getitem and setitem with negative, bool, None and Ellipsis mixes, with gradients
# ------------------------------------------------------------------------------------------------

MASK = np.array([True, False, True])
INDICES = [0, -1, (0, 1), (-1, -2, -3), (slice(None), 1), (..., 1), (None, 0),
           (0, None, ..., None), (..., None), (slice(None, None, 2),), (1, ..., 2), (Ellipsis,),
           (None,), (Ellipsis, -1, None), [1, 0, 1], (slice(None), [0, 2, 2]), ([0, 1], [1, 2]),
           ([0, 1], slice(None), [1, 2]), (0, [0, 2], [1, 3]), (slice(None), MASK), (0, MASK),
           (1, MASK, 0), ([True, False],), True, False, (True, 0), (None, True), (0, True, ...),
           (slice(None), None, [0, 1]), (..., [0, 1]), [0, -2], (slice(1, 2), 0, -1),
           (slice(-10, 10),), (np.int64(1),), (slice(None), [[0], [1]], [[0, 1]]),
           np.array(1), (0, np.array(True))]


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_getitem_and_setitem(index):
    a, b = tg.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    ya, yb = a[index], b[index]
    _same(ya, yb)
    u = np.random.default_rng(0).standard_normal(tuple(yb.shape))
    (ya * tg.tensor(u)).sum().backward()
    (yb * torch.tensor(u)).sum().backward()
    _same(a.grad, b.grad)
    for value in (7.0, -1, True, np.arange(float(yb.shape[-1])) if yb.ndim else 3.0):
        a2, b2 = tg.tensor(X), torch.tensor(X)
        a2[index] = value
        b2[index] = torch.tensor(value) if isinstance(value, np.ndarray) else value
        _same(a2, b2)


@pytest.mark.parametrize("index", [0, -1, (slice(None), -1), (..., 1), (None, 0), MASK,
                                   (MASK, 0), [2, 0], (slice(None), [0, -1]), (0, [1, 1]),
                                   (None, ..., None, 1)], ids=repr)
def test_setitem_in_the_graph(index):
    """x[index] = 3 v on a non-leaf: the gradients reach the old values and v (summed over
    the positions it fills)."""
    results = []
    for T in (tg.tensor, torch.tensor):
        w = T(np.arange(12.0).reshape(3, 4), requires_grad=True)
        v = T(np.array(5.0), requires_grad=True)
        y = w * 2
        y[index] = v * 3
        (y * T(np.random.default_rng(1).standard_normal(tuple(y.shape)))).sum().backward()
        results.append((y, w.grad, v.grad))
    for ours, theirs in zip(*results):
        _same(ours, theirs, exact=False)


def test_index_errors():
    a = tg.tensor(X)
    with pytest.raises(IndexError, match="getitem: .*tensor shape"):
        a[2]
    with pytest.raises(IndexError):
        torch.tensor(X)[2]
    with pytest.raises(IndexError, match="getitem"):
        a[0, 0, 0, 0]
    with pytest.raises(RuntimeError, match="setitem: a value of shape"):
        a[0] = np.zeros(5)


# ------------------------------------------------------------------------------------------------
# Bugs this review found in elementwise.py and shape.py (fixed after it, by the lead)
# ------------------------------------------------------------------------------------------------


def test_small_int_tensor_with_out_of_range_python_int():
    _same(tg.tensor([1, 2], dtype=tg.uint8) + (-1),
          torch.tensor([1, 2], dtype=torch.uint8) + (-1))


def test_getitem_with_an_empty_list():
    _same(tg.tensor(X)[[]], torch.tensor(X)[[]])
    _same(tg.tensor(X)[:, []], torch.tensor(X)[:, []])


def test_bool_tensor_pow_dtype():
    for exponent in (2, True, False, 2.0, 0):
        _same(tg.tensor([True, False]) ** exponent, torch.tensor([True, False]) ** exponent)
    _same(tg.tensor([2, 3]) ** 2.0, torch.tensor([2, 3]) ** 2.0)  # a float exponent: float32


def test_bool_subtraction_error():
    with pytest.raises(RuntimeError, match="sub"):
        tg.tensor([True]) - tg.tensor([False])


def test_int_tensor_negative_int_power():
    with pytest.raises(RuntimeError):
        torch.tensor([2, 3]) ** -1
    with pytest.raises(RuntimeError):
        tg.tensor([2, 3]) ** -1
