"""Ops whose backward has a first-order path (plain arrays, no graph: conv2d, max pooling,
linear, 2-d matmul, cross entropy, training-mode batch norm, layer norm, GELU) compute the
same gradients as their differentiable path (Tensor ops, taken under create_graph=True), on
odd shapes, in float64 and float32, on every device."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import functional as F
from tinygrad_edu.functional import conv as conv_module
from tinygrad_edu.nn import functional as NF


def _both_paths(fn, arrays, device, dtype):
    """The gradients of sum(fn(*inputs) * r) for a fixed random r, first with a plain backward
    (the first-order path), then with create_graph=True (the Tensor-op path)."""
    rng = np.random.default_rng(1)
    results = []
    for create_graph in (False, True):
        inputs = [tg.tensor(a.astype(dtype), device=device, requires_grad=True) for a in arrays]
        out = fn(*inputs)
        r = tg.tensor(rng.standard_normal(out.shape).astype(dtype), device=device)
        rng = np.random.default_rng(1)  # the same r for the second path
        grads = tg.grad((out * r).sum(), inputs, create_graph=create_graph)
        results.append([g.detach().numpy() for g in grads])
    return results


def _assert_same(results, dtype):
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for first_order, differentiable in zip(*results, strict=True):
        assert first_order.dtype == differentiable.dtype == dtype
        np.testing.assert_allclose(first_order, differentiable, rtol=tol, atol=tol)


DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("budget", [None, 300])  # 300 bytes: chunks of one or two samples
@pytest.mark.parametrize("groups,bias", [(1, True), (1, False), (2, True)])
def test_conv2d(device, monkeypatch, dtype, budget, groups, bias):
    if budget is not None:
        monkeypatch.setattr(conv_module, "IM2COL_BUDGET_BYTES", budget)
        monkeypatch.setattr(conv_module, "GPU_IM2COL_BUDGET_BYTES", budget)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((3, 4, 7, 5)), rng.standard_normal((6, 4 // groups, 3, 2))]
    if bias:
        arrays.append(rng.standard_normal(6))

    def fn(x, w, b=None):
        return F.conv2d(x, w, b, stride=(2, 1), padding=1, groups=groups)

    _assert_same(_both_paths(fn, arrays, device, dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", ["auto", "reference"])
@pytest.mark.parametrize("options", [
    dict(kernel_size=2),                                       # LeNet's: disjoint windows
    dict(kernel_size=(3, 2), stride=(2, 1), padding=1),        # overlapping windows add up
    dict(kernel_size=3, stride=2, dilation=2, ceil_mode=True),
])
def test_max_pool2d(device, dtype, kernel, options):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 7))
    with tg.use_kernel(kernel):
        results = _both_paths(lambda t: F.max_pool2d(t, **options), [x], device, dtype)
    _assert_same(results, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape", [(5, 3), (2, 4, 3)])
def test_linear_and_matmul(device, dtype, x_shape):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((7, 3)), rng.standard_normal(7)
    _assert_same(_both_paths(F.linear, [x, w, b], device, dtype), dtype)
    _assert_same(_both_paths(F.linear, [x, w], device, dtype), dtype)
    a, m = rng.standard_normal((5, 3)), rng.standard_normal((3, 6))
    _assert_same(_both_paths(lambda p, q: p @ q, [a, m], device, dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape,target", [
    ((5, 4), [3, -100, 0, 1, 3]),                       # one ignored entry
    ((2, 3, 2, 3), [[[0, 2, 1], [1, 1, -100]], [[2, 0, 0], [1, 2, 2]]]),
    ((4,), 2),                                          # unbatched (C,)
])
def test_cross_entropy(device, dtype, reduction, shape, target):
    rng = np.random.default_rng(0)
    weight = tg.tensor(rng.uniform(0.5, 2.0, shape[1] if len(shape) > 1 else shape[0]),
                       device=device, dtype=dtype)
    target = tg.tensor(np.asarray(target, dtype=np.int64), device=device)

    def fn(x):
        loss = NF.cross_entropy(x, target, weight=weight, reduction=reduction)
        return loss.reshape(1) if loss.ndim == 0 else loss

    _assert_same(_both_paths(fn, [rng.standard_normal(shape)], device, dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 7), (3, 2, 5, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training(device, dtype, shape, affine):
    """On the CPU the first-order path is the fused kernel op (BatchNormTrain); under
    create_graph it differentiates the composite (Normalize and the affine ops)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3 + 1
    C = shape[1]
    if affine:
        def fn(x, w, b):
            return NF.batch_norm(x, None, None, w, b, training=True)

        arrays = [x, rng.uniform(0.5, 1.5, C), rng.uniform(-1, 1, C)]
    else:
        def fn(x):
            return NF.batch_norm(x, None, None, training=True)

        arrays = [x]
    _assert_same(_both_paths(fn, arrays, device, dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("normalized_shape", [(7,), (3, 4)])
@pytest.mark.parametrize("params", ["weight and bias", "weight", "none"])
def test_layer_norm(device, dtype, normalized_shape, params):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3) + normalized_shape) * 3 + 1
    arrays = [x] + [rng.uniform(0.5, 1.5, normalized_shape)
                    for _ in range({"weight and bias": 2, "weight": 1, "none": 0}[params])]

    def fn(x, *affine):
        return NF.layer_norm(x, normalized_shape, *affine)

    _assert_same(_both_paths(fn, arrays, device, dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu(device, dtype):
    """float32 on the CPU: the fused op (one Numba pass each way); else the composite."""
    x = np.random.default_rng(0).standard_normal((6, 7)) * 3
    _assert_same(_both_paths(F.gelu, [x], device, dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [[(4, 3), (4, 3)], [(4, 3), (3,)], [(2, 1, 3), (4, 1)],
                                    [(), ()]])
def test_mul_div_sub(device, dtype, shapes):
    """Broadcast operands are summed back (sum_to on arrays); 0-d operands give 0-d arrays."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    arrays[1] = np.abs(arrays[1]) + 0.5  # a divisor away from 0

    def fn(a, b):
        return ((a * b - a / b) * a - b).reshape(-1)

    _assert_same(_both_paths(fn, arrays, device, dtype), dtype)


def test_walk_keeps_fresh_gradients_without_aliasing(device):
    """A weight used twice gets both contributions; gradients handed over without a copy (the
    first-order paths' new arrays) are never shared between two leaves, and an op whose
    backward returns its dy as is (Add) still gets a private copy."""
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((5, 3)), device=device)
    w = tg.tensor(rng.standard_normal((4, 3)), device=device, requires_grad=True)
    b1 = tg.tensor(rng.standard_normal(4), device=device, requires_grad=True)
    b2 = tg.tensor(rng.standard_normal(4), device=device, requires_grad=True)
    (F.linear(x, w, b1) + F.linear(2 * x, w) + b2).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.tile(3 * x.numpy().sum(0), (4, 1)))
    np.testing.assert_allclose(b1.grad.numpy(), np.full(4, 5.0))
    np.testing.assert_allclose(b2.grad.numpy(), np.full(4, 5.0))
    b1.grad.data[...] = 0  # writing one .grad leaves the others alone
    np.testing.assert_allclose(b2.grad.numpy(), np.full(4, 5.0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_at_huge_logits(device, dtype):
    """Logits of 1e4: the first-order gradient takes softmax as e^((x - max) - log_sum), never
    through logsumexp(x) itself, which float32 rounds in steps of 1e-3 there."""
    x = np.array([[1e4, 1e4 - 1.5, -1e4], [-1e4, 0.25, 1e4 - 0.5]])
    target = tg.tensor(np.array([1, 2]), device=device)
    _assert_same(_both_paths(lambda z: NF.cross_entropy(z, target).reshape(1), [x], device,
                             dtype), dtype)
