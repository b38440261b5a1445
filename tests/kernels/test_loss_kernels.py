"""Softmax cross entropy kernels: the NumPy reference against torch (every row's loss and its
gradient), and the Numba kernel against the reference on odd shapes (one row, one class, more
classes than a vector, rows ignored, every row ignored), float32 and float64, huge logits,
strided logits, NaN, and the errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tinygrad_edu.kernels.cpu import loss as cpu
from tinygrad_edu.kernels.reference import loss as ref

SHAPES = [(1, 1), (1, 7), (5, 1), (3, 2), (13, 10), (37, 33), (4, 100)]
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-6, atol=2e-6), np.float64: dict(rtol=1e-13, atol=1e-13)}


def case(shape, dtype, ignored=(), ignore_index=-100, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    t = rng.integers(0, shape[1], shape[0])
    t[list(ignored)] = ignore_index
    return x, t


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_reference_matches_torch(shape):
    x, t = case(shape, np.float64, ignored=[0] if shape[0] > 2 else [])
    losses, dx, count = ref.cross_entropy_forward(x, t)
    tx = torch.tensor(x, requires_grad=True)
    theirs = TF.cross_entropy(tx, torch.tensor(t), reduction="none")
    theirs.sum().backward()
    np.testing.assert_allclose(losses, theirs.detach().numpy(), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-13, atol=1e-13)
    assert count == int((t != -100).sum())


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("ignore_index", [-100, 0])
def test_cpu_matches_reference(shape, dtype, ignore_index):
    ignored = [r for r in (0, 2, shape[0] - 1) if r < shape[0]][: max(shape[0] - 1, 0)]
    x, t = case(shape, dtype, ignored=ignored, ignore_index=ignore_index)
    ours = cpu.cross_entropy_forward(x, t, ignore_index)
    expected = ref.cross_entropy_forward(x, t, ignore_index)
    for got, want in zip(ours[:2], expected[:2]):
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, **TOL[dtype])
    assert ours[2] == expected[2] == int((t != ignore_index).sum())


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_every_row_ignored_gives_zeros_and_count_0(dtype):
    x, t = case((4, 3), dtype, ignored=range(4))
    for impl in (cpu, ref):
        losses, dx, count = impl.cross_entropy_forward(x, t)
        assert count == 0 and not losses.any() and not dx.any()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_huge_logits_stay_exact(dtype):
    """Logits of 1e4 overflow e^x; the max is subtracted first, and m and log_sum are kept apart,
    so the loss is exact (1e4 + log 2 - 1e4 would round to steps of 1e-3 in float32)."""
    x = np.array([[1e4, 1e4, -1e4], [-1e4, 0.0, 1e4]], dtype=dtype)
    t = np.array([0, 1])
    for impl in (cpu, ref):
        losses, dx, _ = impl.cross_entropy_forward(x, t)
        np.testing.assert_allclose(losses, [np.log(2), 1e4], rtol=1e-6)
        np.testing.assert_allclose(dx, [[-0.5, 0.5, 0], [0, -1, 1]], atol=1e-6)


def test_strided_logits():
    x, t = case((6, 8), np.float32)
    view = np.asfortranarray(x)[::2, 1::2]
    ours = cpu.cross_entropy_forward(view, t[:3])
    expected = ref.cross_entropy_forward(np.ascontiguousarray(view), t[:3])
    for got, want in zip(ours[:2], expected[:2]):
        np.testing.assert_allclose(got, want, **TOL[np.float32])


def test_nan_logit_poisons_its_row_only():
    x, t = case((3, 4), np.float64)
    x[1, 2] = np.nan
    losses, dx, _ = cpu.cross_entropy_forward(x, t)
    assert np.isnan(losses[1]) and np.isnan(dx[1]).all()
    assert np.isfinite(losses[[0, 2]]).all() and np.isfinite(dx[[0, 2]]).all()


@pytest.mark.parametrize("bad", [5, -1, 99])
def test_out_of_range_target_raises_for_both(bad):
    x, t = case((4, 5), np.float32)
    t[2] = bad
    for impl in (cpu, ref):
        with pytest.raises(IndexError, match=rf"cross_entropy_forward: target {bad} is out of "
                                             r"bounds for 5 classes .*input shape \(4, 5\)"):
            impl.cross_entropy_forward(x, t)


@pytest.mark.parametrize("x, t, match", [
    (np.zeros((3, 4), np.int64), np.zeros(3, np.int64), r"float32 or float64 logits.*int64"),
    (np.zeros(4, np.float32), np.zeros(1, np.int64), r"\(N, C\) float32"),
    (np.zeros((3, 0), np.float32), np.zeros(3, np.int64), r"C >= 1"),
    (np.zeros((3, 4), np.float32), np.zeros(3, np.int32), r"\(3,\) int64 .* got int32"),
    (np.zeros((3, 4), np.float32), np.zeros(2, np.int64), r"\(3,\) int64 .* got int64 \(2,\)"),
    (np.zeros((3, 4), np.float32), [0, 1, 2], r"int64 class indices .* got list"),
])
def test_argument_errors(x, t, match):
    for impl in (cpu, ref):
        with pytest.raises(ValueError, match=match):
            impl.cross_entropy_forward(x, t)
