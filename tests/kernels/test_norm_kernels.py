"""Batch normalization (training mode) and layer normalization kernels: the NumPy reference
against torch, and the Numba kernels against the reference, on odd shapes (one channel or row,
one value per sample, runs shorter and longer than a vector, rows past a block of the layer
norm backward), float32 and float64, with and without the affine parameters; NaN propagation
and the errors."""

import numpy as np
import pytest
import torch
from tinygrad_edu.kernels.cpu import norm as cpu
from tinygrad_edu.kernels.reference import norm as ref

SHAPES = [(2, 1, 1), (1, 3, 5), (7, 2, 1), (3, 4, 17), (5, 3, 40), (2, 6, 33)]
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def case(shape, dtype, weight=True, bias=True, seed=0):
    """x, dy of ``shape`` and, where asked for, weight and bias with one value per feature:
    axis 1, the channels C of batch norm's (N, C, L) and the D of layer norm's (R, D)."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    features = shape[1]
    w = rng.uniform(0.5, 1.5, features).astype(dtype) if weight else None
    b = rng.uniform(-1, 1, features).astype(dtype) if bias else None
    return x, dy, w, b


def torch_forward_backward(fn, x, weight, bias, dy):
    """y = fn(x, weight, bias) in torch (weight, bias None where not given) and its backward
    from dy: (y, dx, dweight, dbias) as arrays, the last two None where not given."""
    tx = torch.tensor(x, requires_grad=True)
    tw, tb = (None if p is None else torch.tensor(p, requires_grad=True) for p in (weight, bias))
    ty = fn(tx, tw, tb)
    ty.backward(torch.tensor(dy))
    return (ty.detach().numpy(), tx.grad.numpy(),
            *(None if t is None else t.grad.numpy() for t in (tw, tb)))


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(3, 4, 17), (7, 2, 1), (2, 3, 4)])
def test_reference_matches_torch(shape, affine):
    x, dy, weight, bias = case(shape, np.float64, affine, affine)
    y, mean, var = ref.batch_norm_forward(x, weight, bias, 1e-5)
    dx, dweight, dbias = ref.batch_norm_backward(dy, x, mean, var, weight, 1e-5)
    t_y, t_dx, t_dweight, t_dbias = torch_forward_backward(
        lambda tx, tw, tb: torch.nn.functional.batch_norm(tx, None, None, tw, tb, training=True,
                                                          eps=1e-5), x, weight, bias, dy)
    np.testing.assert_allclose(y, t_y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(var, x.var(axis=(0, 2)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-10, atol=1e-10)
    if affine:
        np.testing.assert_allclose(dweight, t_dweight, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dbias, t_dbias, rtol=1e-10, atol=1e-10)
    else:
        assert dweight is None


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_cpu_matches_reference(shape, dtype, affine):
    x, dy, weight, bias = case(shape, dtype, affine, affine)
    assert_cpu_matches_reference("batch_norm", x, dy, weight, bias)


def assert_cpu_matches_reference(kernel: str, x, dy, weight, bias):
    """``<kernel>_forward`` and ``_backward`` of cpu and reference: the same outputs, dtypes
    and shapes, float64 statistics; the backward of each from its own statistics."""
    dtype = x.dtype.type
    cpu_forward, ref_forward = (getattr(m, kernel + "_forward") for m in (cpu, ref))
    cpu_backward, ref_backward = (getattr(m, kernel + "_backward") for m in (cpu, ref))
    y, mean, var = cpu_forward(x, weight, bias, 1e-5)
    y_ref, mean_ref, var_ref = ref_forward(x, weight, bias, 1e-5)
    assert y.dtype == dtype and mean.dtype == var.dtype == np.float64
    np.testing.assert_allclose(y, y_ref, **TOL[dtype])
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(var, var_ref, rtol=1e-12, atol=1e-12)
    grads = cpu_backward(dy, x, mean, var, weight, 1e-5)
    expected = ref_backward(dy, x, mean_ref, var_ref, weight, 1e-5)
    for got, want in zip(grads, expected, strict=True):
        if want is None:
            assert got is None
        else:
            assert got.dtype == dtype and got.shape == want.shape
            np.testing.assert_allclose(got, want, **TOL[dtype])


def test_cpu_accepts_non_contiguous_input():
    x, dy, weight, bias = case((4, 3, 10), np.float64)
    strided = np.asfortranarray(x)
    y, mean, var = cpu.batch_norm_forward(strided, weight, bias, 1e-5)
    np.testing.assert_allclose(y, ref.batch_norm_forward(x, weight, bias, 1e-5)[0],
                               rtol=1e-12, atol=1e-12)
    dx = cpu.batch_norm_backward(np.asfortranarray(dy), strided, mean, var, weight, 1e-5)[0]
    np.testing.assert_allclose(dx, ref.batch_norm_backward(dy, x, mean, var, weight, 1e-5)[0],
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_and_inf_stay_in_their_channel(dtype):
    x, dy, weight, bias = case((3, 3, 6), dtype)
    x[1, 0, 2] = np.nan
    x[0, 2, 0] = np.inf
    y, mean, var = cpu.batch_norm_forward(x, weight, bias, 1e-5)
    assert np.isnan(y[:, 0]).all() and np.isnan(mean[0])
    assert np.isfinite(y[:, 1]).all()  # the clean channel is untouched
    assert not np.isfinite(y[:, 2]).all()
    dx = cpu.batch_norm_backward(dy, x, mean, var, weight, 1e-5)[0]
    assert np.isnan(dx[:, 0]).all() and np.isfinite(dx[:, 1]).all()


def test_errors_name_the_op_and_what_it_got():
    x, dy, weight, bias = case((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"batch_norm_forward: expected a float32 or float64 "
                                         r"\(N, C, L\) array, got float32 array of shape \(2, 3\)"):
        cpu.batch_norm_forward(x[:, :, 0], weight, bias, 1e-5)
    with pytest.raises(ValueError, match=r"batch_norm_forward: expected .* got int64 array"):
        cpu.batch_norm_forward(x.astype(np.int64), weight, bias, 1e-5)
    with pytest.raises(ValueError, match=r"bias must be a \(3,\) array for x of shape "
                                         r"\(2, 3, 4\), got \(4,\)"):
        cpu.batch_norm_forward(x, weight, np.zeros(4, np.float32), 1e-5)
    with pytest.raises(ValueError, match=r"batch_norm_backward: dy must match x"):
        cpu.batch_norm_backward(dy[:1], x, np.zeros(3), np.ones(3), weight, 1e-5)


# ----------------------------------------------------------------------------------------------
# layer norm: rows (R, D)
# ----------------------------------------------------------------------------------------------

ROWS = [(1, 1), (1, 5), (3, 1), (65, 7), (130, 33), (64, 128)]  # 65, 130: past a block of 64


@pytest.mark.parametrize("weight,bias", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("shape", [(5, 7), (1, 4), (9, 3)])
def test_layer_norm_reference_matches_torch(shape, weight, bias):
    x, dy, w, b = case(shape, np.float64, weight, bias)
    y, mean, var = ref.layer_norm_forward(x, w, b, 1e-5)
    dx, dw, db = ref.layer_norm_backward(dy, x, mean, var, w, 1e-5)
    t_y, t_dx, t_dw, t_db = torch_forward_backward(
        lambda tx, tw, tb: torch.nn.functional.layer_norm(tx, (shape[1],), tw, tb, eps=1e-5),
        x, w, b, dy)
    np.testing.assert_allclose(y, t_y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, dy.sum(axis=0), rtol=1e-12, atol=1e-12)  # with or without b
    if weight:
        np.testing.assert_allclose(dw, t_dw, rtol=1e-10, atol=1e-10)
    else:
        assert dw is None
    if bias:
        np.testing.assert_allclose(db, t_db, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("weight,bias", [(True, True), (True, False), (False, True),
                                         (False, False)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ROWS)
def test_layer_norm_cpu_matches_reference(shape, dtype, weight, bias):
    x, dy, w, b = case(shape, dtype, weight, bias)
    assert_cpu_matches_reference("layer_norm", x, dy, w, b)


def test_layer_norm_nan_stays_in_its_row():
    x, dy, w, b = case((4, 6), np.float32)
    x[2, 3] = np.nan
    y, mean, var = cpu.layer_norm_forward(x, w, b, 1e-5)
    assert np.isnan(y[2]).all() and np.isfinite(np.delete(y, 2, axis=0)).all()
    dx = cpu.layer_norm_backward(dy, x, mean, var, w, 1e-5)[0]
    assert np.isnan(dx[2]).all() and np.isfinite(np.delete(dx, 2, axis=0)).all()


def test_layer_norm_errors():
    x, dy, w, b = case((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"layer_norm_forward: expected a float32 or float64 "
                                         r"\(R, D\) array, got float32 array of shape \(6,\)"):
        cpu.layer_norm_forward(x.reshape(-1), w, b, 1e-5)
    with pytest.raises(ValueError, match=r"weight must be a \(3,\) array for x of shape "
                                         r"\(2, 3\), got \(2,\)"):
        cpu.layer_norm_forward(x, w[:2], b, 1e-5)
    with pytest.raises(ValueError, match=r"layer_norm_backward: dy must match x"):
        cpu.layer_norm_backward(dy.astype(np.float64), x, np.zeros(2), np.ones(2), w, 1e-5)
