"""Property tests (hypothesis): random shapes, broadcasting patterns and indexes, checked
against NumPy and against identities every correct implementation satisfies."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_edu as tg
from tinygrad_edu import functional as F

SETTINGS = settings(max_examples=40, deadline=None)

BINARY = {
    # name: (tinygrad op, forward in NumPy, d/da, d/db), the derivatives elementwise in NumPy
    "add": (F.add, np.add, lambda a, b: np.ones_like(a * b), lambda a, b: np.ones_like(a * b)),
    "sub": (F.sub, np.subtract, lambda a, b: np.ones_like(a * b),
            lambda a, b: -np.ones_like(a * b)),
    "mul": (F.mul, np.multiply, lambda a, b: b + 0 * a, lambda a, b: a + 0 * b),
    "div": (F.div, np.divide, lambda a, b: 1 / b + 0 * a, lambda a, b: -a / b**2),
    "pow": (F.pow, np.power, lambda a, b: b * a ** (b - 1), lambda a, b: a**b * np.log(a)),
    "maximum": (F.maximum, np.maximum, lambda a, b: (a > b) + 0.0 * b,
                lambda a, b: (b > a) + 0.0 * a),
}


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Reference adjoint of broadcasting, written independently of the library's sum_to."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


@st.composite
def broadcast_pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                    max_side=4))
    a_shape, b_shape = shapes.input_shapes
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    # positive, well separated values: valid for div and pow, and no ties for maximum
    a = rng.uniform(0.5, 2.0, size=a_shape) + rng.integers(0, 4, size=a_shape) * 3
    b = rng.uniform(0.5, 2.0, size=b_shape)
    return a, b


@SETTINGS
@given(pair=broadcast_pair(), name=st.sampled_from(sorted(BINARY)))
def test_binary_ops_broadcast_like_numpy_and_their_gradient_is_the_unbroadcast(pair, name):
    a_np, b_np = pair
    op, forward, da, db = BINARY[name]
    a = tg.tensor(a_np, requires_grad=True)
    b = tg.tensor(b_np, requires_grad=True)
    out = op(a, b)
    expected = forward(a_np, b_np)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), unbroadcast(da(a_np, b_np), a_np.shape),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), unbroadcast(db(a_np, b_np), b_np.shape),
                               rtol=1e-10, atol=1e-12)


@SETTINGS
@given(pair=broadcast_pair(), scalar=st.floats(0.5, 3.0), name=st.sampled_from(
    ["add", "sub", "mul", "div", "pow"]))
def test_python_scalars_act_like_0d_tensors(pair, scalar, name):
    a_np, _ = pair
    op = BINARY[name][0]
    a = tg.tensor(a_np.astype(np.float32))
    for left, right in [(a, scalar), (scalar, a)]:
        out = op(left, right)
        assert out.dtype == tg.float32 and out.shape == a.shape
        expected = BINARY[name][1](*(np.float32(v) if isinstance(v, float) else v.numpy()
                                     for v in (left, right)))
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)


DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


@SETTINGS
@given(a=st.sampled_from(DTYPES), b=st.sampled_from(DTYPES), a_0d=st.booleans(),
       b_0d=st.booleans())
def test_promotion_matches_torch_result_type(a, b, a_0d, b_0d):
    x = tg.ones(() if a_0d else (2,), dtype=a)
    y = tg.ones(() if b_0d else (2,), dtype=b)
    tx = torch.ones(() if a_0d else (2,), dtype=getattr(torch, a))
    ty = torch.ones(() if b_0d else (2,), dtype=getattr(torch, b))
    assert str(torch.result_type(tx, ty)) == f"torch.{(x * y).dtype}"


@st.composite
def shape_and_permutation(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=5, max_side=4))
    perm = draw(st.permutations(range(len(shape))))
    return shape, tuple(perm)


@SETTINGS
@given(case=shape_and_permutation())
def test_permute_round_trip_and_its_gradient(case):
    shape, perm = case
    x_np = np.random.default_rng(0).standard_normal(shape)
    x = tg.tensor(x_np, requires_grad=True)
    y = x.permute(*perm)
    np.testing.assert_array_equal(y.detach().numpy(), x_np.transpose(perm))
    inverse = tuple(int(i) for i in np.argsort(perm))
    np.testing.assert_array_equal(y.permute(*inverse).detach().numpy(), x_np)
    upstream = np.random.default_rng(1).standard_normal(y.shape)
    (y * tg.tensor(upstream)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), upstream.transpose(inverse))


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=4), data=st.data())
def test_reshape_round_trip_and_its_gradient(shape, data):
    n = int(np.prod(shape))
    x_np = np.arange(n, dtype=np.float64).reshape(shape)
    # a random factorization of n, with one -1 to be inferred
    factors = []
    rest = n
    for _ in range(data.draw(st.integers(0, 3))):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = data.draw(st.sampled_from(divisors))
        factors.append(d)
        rest //= d
    new_shape = tuple(factors) + (-1,)
    x = tg.tensor(x_np, requires_grad=True)
    y = x.reshape(new_shape)
    np.testing.assert_array_equal(y.detach().numpy(), x_np.reshape(new_shape))
    np.testing.assert_array_equal(y.reshape(shape).detach().numpy(), x_np)
    upstream = np.random.default_rng(2).standard_normal(y.shape)
    (y * tg.tensor(upstream)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), upstream.reshape(shape))


@st.composite
def index_for(draw, shape):
    """A random index for ``shape``: ints, slices with steps, None, Ellipsis and integer arrays
    (repeats allowed), or one boolean mask."""
    if draw(st.booleans()) and draw(st.booleans()):
        mask = np.asarray(draw(hnp.arrays(bool, shape[:1])))
        return (mask,)
    items = []
    n = draw(st.integers(1, 5))  # one length for all integer arrays, so that they broadcast
    for size in shape:
        kind = draw(st.sampled_from(["int", "slice", "array", "all", "none"]))
        if kind == "int":
            items.append(draw(st.integers(-size, size - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-size, size))
            stop = draw(st.none() | st.integers(-size, size))
            step = draw(st.none() | st.integers(1, 3) | st.integers(-3, -1))
            items.append(slice(start, stop, step))
        elif kind == "array":
            items.append(np.asarray(draw(st.lists(st.integers(-size, size - 1), min_size=n,
                                                  max_size=n))))
        elif kind == "none":
            items.extend([None, slice(None)])
        else:
            items.append(slice(None))
    if draw(st.booleans()) and len(items) > 1:
        items = items[:1] + [Ellipsis]
    return tuple(items)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_getitem_matches_numpy_and_its_gradient_preserves_the_sum(shape, data):
    index = data.draw(index_for(shape))
    x_np = np.random.default_rng(3).standard_normal(shape)
    expected = x_np[index]
    x = tg.tensor(x_np, requires_grad=True)
    y = x[index]
    np.testing.assert_array_equal(y.detach().numpy(), expected)
    upstream = np.random.default_rng(4).standard_normal(expected.shape)
    (y * tg.tensor(upstream)).sum().backward()
    # every selected element sends its upstream gradient back once: the total is preserved...
    np.testing.assert_allclose(x.grad.numpy().sum(), upstream.sum(), atol=1e-9)
    # ...and lands where NumPy's unbuffered scatter-add puts it (repeats accumulate)
    reference = np.zeros(shape)
    np.add.at(reference, index, upstream)
    np.testing.assert_allclose(x.grad.numpy(), reference, atol=1e-12)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), data=st.data())
def test_reductions_over_random_dims_match_numpy(shape, data):
    dims = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)))
    dim = tuple(dims) if dims else None
    keepdim = data.draw(st.booleans())
    x_np = np.random.default_rng(5).standard_normal(shape)
    x = tg.tensor(x_np, requires_grad=True)
    axis = dim if dim is not None else tuple(range(len(shape)))
    np.testing.assert_allclose(x.sum(dim, keepdim).detach().numpy(),
                               x_np.sum(axis=axis, keepdims=keepdim), atol=1e-12)
    np.testing.assert_allclose(x.mean(dim, keepdim).detach().numpy(),
                               x_np.mean(axis=axis, keepdims=keepdim), atol=1e-12)
    np.testing.assert_allclose(x.amax(dim, keepdim).detach().numpy(),
                               x_np.max(axis=axis, keepdims=keepdim))
    lse = np.log(np.exp(x_np).sum(axis=axis, keepdims=keepdim))
    np.testing.assert_allclose(x.logsumexp(dim, keepdim).detach().numpy(), lse, rtol=1e-12)
    x.mean(dim, keepdim).sum().backward()  # every element gets 1 / (number averaged)
    count = int(np.prod([shape[a] for a in axis]))
    np.testing.assert_allclose(x.grad.numpy(), np.full(shape, 1.0 / count))


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=3,
                                                max_side=4))
def test_matmul_matches_numpy_for_random_shapes(shapes):
    a_shape, b_shape = shapes.input_shapes
    rng = np.random.default_rng(6)
    a_np, b_np = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    a = tg.tensor(a_np, requires_grad=True)
    b = tg.tensor(b_np, requires_grad=True)
    out = a @ b
    np.testing.assert_allclose(out.detach().numpy(), a_np @ b_np, atol=1e-12)
    upstream = rng.standard_normal(out.shape)
    ta = torch.tensor(a_np, requires_grad=True)
    tb = torch.tensor(b_np, requires_grad=True)
    (ta @ tb * torch.tensor(upstream)).sum().backward()
    (out * tg.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), atol=1e-12)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), data=st.data(),
       scale=st.sampled_from([1.0, 100.0, 1e4]))
def test_softmax_is_a_distribution_and_log_softmax_its_log(shape, data, scale):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x_np = np.random.default_rng(7).standard_normal(shape) * scale
    x = tg.tensor(x_np)
    p = x.softmax(dim).numpy()
    assert np.all(p >= 0) and np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=dim), 1.0, rtol=1e-12)
    log_p = x.log_softmax(dim).numpy()
    assert np.all(np.isfinite(log_p)) and np.all(log_p <= 1e-12)
    np.testing.assert_allclose(np.exp(log_p), p, rtol=1e-10, atol=1e-300)
