"""Review of the 3-d pools, the extra pools, interpolate and Unfold/Fold against torch 2.13 on
odd, non-square, non-divisible shapes: forward values, returned indices, gradients with a
random upstream gradient (float32 and float64), float64 numerical gradients of every order,
and errors that name the op.

Regressions found in the review (each has a test below):

- interpolate, linear modes: an axis whose size does not change under a scale factor that is
  not 1 (1.05 on 7 entries) is left as it is by torch; we shifted it by the scale.
- interpolate, 2-d "nearest": torch copies an axis that keeps its size and reads j // 2 on an
  axis that doubles (scale factors 1.05, 2.05); we used the scale factor.
- interpolate, nearest modes: torch computes the source position in the input's precision and
  floors it as a float32, so a position that lands on an integer rounded differently (float32,
  n_in = 20, scale 19/3, j = 95: torch 14, we said 15; float64, n_in = 31, scale 46/27,
  j = 46: torch 27, we said 26).
- Unfold / Fold: kernel_size or stride 0 and a 3-entry kernel crashed with ZeroDivisionError
  and "too many values to unpack" instead of an error naming the layer.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import assert_close, check_op

import tinygrad_edu as tg
from tinygrad_edu.functional.pool import adaptive_max_pool1d, adaptive_max_pool2d
from tinygrad_edu.functional.pool3d import (
    adaptive_avg_pool3d,
    adaptive_max_pool3d,
    avg_pool3d,
    max_pool3d,
)
from tinygrad_edu.functional.pool_extra import (
    lp_pool1d,
    lp_pool2d,
    max_pool1d_with_indices,
    max_pool2d_with_indices,
    max_unpool1d,
    max_unpool2d,
)
from tinygrad_edu.functional.resample import interpolate
from tinygrad_edu.nn.fold import Fold, Unfold
from tinygrad_edu.nn.pooling_extra import LPPool1d, LPPool2d, MaxUnpool1d, MaxUnpool2d

DTYPES = (np.float32, np.float64)


def _compare(tg_fn, torch_fn, x: np.ndarray, dtype, indices: bool = False, seed: int = 0):
    """Forward (values, and indices when the ops return them) and the gradient for one random
    upstream gradient, ours vs torch, in ``dtype``; returns our output."""
    a = x.astype(dtype)
    ours_in = tg.tensor(a, requires_grad=True)
    theirs_in = torch.tensor(a, requires_grad=True)
    ours, theirs = tg_fn(ours_in), torch_fn(theirs_in)
    if indices:
        (ours, ours_idx), (theirs, theirs_idx) = ours, theirs
        assert ours_idx.dtype == np.int64
        np.testing.assert_array_equal(ours_idx.numpy(), theirs_idx.numpy())
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype == dtype
    if np.isnan(a).any() or np.isinf(a).any():  # values only: inf * 0 upstream makes NaNs
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
        return ours
    assert_close(ours, theirs, dtype, "forward")
    u = np.random.default_rng(seed).standard_normal(ours.shape).astype(dtype)
    (ours * tg.tensor(u)).sum().backward()
    (theirs * torch.tensor(u)).sum().backward()
    assert_close(ours_in.grad, theirs_in.grad, dtype, "gradient")
    return ours


def _randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ----------------------------------------------------------------------------------------------
# max_pool3d / avg_pool3d
# ----------------------------------------------------------------------------------------------

# (shape, kernel, stride, padding, dilation, ceil_mode)
MAX3D = [
    ((2, 3, 5, 6, 7), 2, None, 0, 1, False),
    ((2, 3, 5, 6, 7), 2, None, 0, 1, True),  # ceil_mode: a last, partial window per dim
    ((1, 2, 5, 5, 5), 2, 2, 1, 1, True),  # a 4th window would start in the right padding
    ((1, 2, 4, 7, 6), (3, 2, 1), (2, 3, 1), (1, 1, 0), (1, 2, 3), True),
    ((2, 1, 6, 4, 5), (2, 3, 2), (1, 2, 3), (1, 0, 1), (2, 1, 1), False),
    ((3, 4, 5, 6), 3, 2, 1, 1, True),  # unbatched (C, D, H, W)
    ((2, 2, 1, 1, 9), (1, 1, 4), (1, 1, 3), (0, 0, 2), 1, True),
]


@pytest.mark.parametrize("shape, k, s, p, d, ceil", MAX3D)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool3d_values_indices_and_gradients_match_torch(shape, k, s, p, d, ceil, dtype):
    _compare(lambda x: max_pool3d(x, k, s, p, d, ceil, return_indices=True),
             lambda x: TF.max_pool3d(x, k, s, p, d, ceil, return_indices=True),
             _randn(*shape, seed=1), dtype, indices=True)


def test_max_pool3d_ceil_mode_drops_a_window_that_starts_in_the_padding():
    x = tg.randn(1, 1, 5, 5, 5)
    # (5 + 2 - 2 + 1) // 2 + 1 = 4 windows, but the 4th would start at 6 - 1 = 5 >= 5 + 0
    assert max_pool3d(x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 3, 3, 3)
    assert TF.max_pool3d(torch.zeros(1, 1, 5, 5, 5), 2, 2, 1, ceil_mode=True).shape == (
        1, 1, 3, 3, 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool3d_ties_nan_and_inf_pick_torchs_index(dtype):
    x = np.array([[[[[1.0, np.nan, 3.0, np.nan], [3.0, 3.0, 0.0, 1.0]],
                    [[np.nan, 2.0, 3.0, 3.0], [1.0, 1.0, 1.0, 1.0]]]]])  # (1, 1, 2, 2, 4)
    for k, s in [(2, 1), ((1, 2, 2), 1), ((2, 1, 3), (1, 1, 1))]:
        _compare(lambda t, k=k, s=s: max_pool3d(t, k, s, return_indices=True),
                 lambda t, k=k, s=s: TF.max_pool3d(t, k, s, return_indices=True), x, dtype,
                 indices=True)
    ties = np.ones((1, 2, 3, 3, 4))  # every window a tie: the first entry in (kd, kh, kw) order
    _compare(lambda t: max_pool3d(t, 2, 1, 1, return_indices=True),
             lambda t: TF.max_pool3d(t, 2, 1, 1, return_indices=True), ties, dtype, indices=True)
    ninf = np.full((1, 1, 2, 3, 3), -np.inf)  # all -inf: the window's first input entry
    _compare(lambda t: max_pool3d(t, 2, 1, 1, return_indices=True),
             lambda t: TF.max_pool3d(t, 2, 1, 1, return_indices=True), ninf, dtype, indices=True)


def test_max_pool3d_window_of_padding_only_has_no_index_and_no_gradient():
    # W = 2, kernel 2 with dilation 3 and padding 1: the window reads w = -1 and w = 2, both
    # padding. torch returns d H W + 2 (w = 2, past the row) and adds its dy to whatever entry
    # that flat index names (the next depth slice, or the next plane)
    x = np.arange(8.0).reshape(2, 1, 2, 1, 2)
    args = ((1, 1, 2), 1, (0, 0, 1), (1, 1, 3), True)
    ours_in = tg.tensor(x, requires_grad=True)
    y, idx = max_pool3d(ours_in, *args, return_indices=True)
    ty, tidx = TF.max_pool3d(torch.tensor(x), *args, return_indices=True)
    np.testing.assert_array_equal(y.detach().numpy(), ty.numpy())  # -inf, like torch
    assert tidx.numpy().ravel().tolist() == [2, 4, 2, 4]  # torch: w = 2 at d = 0 and d = 1
    assert (idx.numpy() == -1).all()  # ours: no index (documented in MaxPool3d)
    y.sum().backward()
    assert not ours_in.grad.numpy().any()


# (shape, kernel, stride, padding, ceil_mode)
AVG3D = [
    ((2, 3, 5, 6, 7), 2, None, 0, False),
    ((2, 3, 5, 6, 7), 3, 2, 1, True),  # last windows hang past the right padding
    ((1, 2, 5, 5, 5), 2, 2, 1, True),  # the window that would start in the padding is dropped
    ((1, 2, 4, 7, 6), (3, 2, 1), (2, 3, 1), (1, 1, 0), True),
    ((3, 4, 5, 6), (2, 3, 2), (1, 2, 3), (1, 1, 1), False),  # unbatched
]


@pytest.mark.parametrize("shape, k, s, p, ceil", AVG3D)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("divisor_override", [None, 5, -3])
def test_avg_pool3d_matches_torch(shape, k, s, p, ceil, count_include_pad, divisor_override):
    for dtype in DTYPES:
        _compare(lambda x: avg_pool3d(x, k, s, p, ceil, count_include_pad, divisor_override),
                 lambda x: TF.avg_pool3d(x, k, s, p, ceil, count_include_pad, divisor_override),
                 _randn(*shape, seed=2), dtype)


# ----------------------------------------------------------------------------------------------
# Adaptive pools
# ----------------------------------------------------------------------------------------------

ADAPTIVE3D = [
    ((2, 3, 5, 6, 7), (2, 4, 3)),  # overlapping bins of different lengths
    ((2, 3, 5, 6, 7), (7, 9, 11)),  # larger than the input
    ((2, 3, 5, 6, 7), (None, 4, None)),  # None keeps D and W
    ((3, 4, 5, 6), (3, None, 1)),  # unbatched
    ((1, 2, 1, 1, 1), 3),  # one voxel copied everywhere
]


@pytest.mark.parametrize("shape, size", ADAPTIVE3D)
@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive_pools_3d_match_torch(shape, size, dtype):
    x = _randn(*shape, seed=3)
    _compare(lambda t: adaptive_avg_pool3d(t, size), lambda t: TF.adaptive_avg_pool3d(t, size),
             x, dtype)
    _compare(lambda t: adaptive_max_pool3d(t, size, return_indices=True),
             lambda t: TF.adaptive_max_pool3d(t, size, return_indices=True), x, dtype,
             indices=True)


@pytest.mark.parametrize("seed", range(6))
def test_adaptive_max_pools_with_ties_and_nan_pick_torchs_indices(seed):
    rng = np.random.default_rng(seed)
    ops = [(adaptive_max_pool1d, TF.adaptive_max_pool1d, (2, 3, 7), 3),
           (adaptive_max_pool2d, TF.adaptive_max_pool2d, (3, 5, 7), (4, None)),
           (adaptive_max_pool3d, TF.adaptive_max_pool3d, (2, 2, 3, 5, 4), (2, 3, None))]
    for ours, theirs, shape, size in ops:
        x = rng.integers(0, 3, shape).astype(np.float64)  # many ties
        if seed % 2:
            x[rng.random(shape) < 0.2] = np.nan  # torch keeps the last NaN of a bin
        for dtype in DTYPES:
            _compare(lambda t, ours=ours, size=size: ours(t, size, return_indices=True),
                     lambda t, theirs=theirs, size=size: theirs(t, size, return_indices=True),
                     x, dtype, indices=True)


POOL_GRADCHECKS = [
    lambda x: max_pool3d(x * x, (2, 3, 2), (1, 2, 2), (1, 1, 0), (1, 1, 2), True),
    lambda x: avg_pool3d(x * x, (2, 3, 2), (1, 2, 3), (1, 1, 0), True, False),
    lambda x: avg_pool3d(x * x, 3, 2, 1, True, True, -3),
    lambda x: adaptive_avg_pool3d(x * x, (3, None, 4)),
    lambda x: adaptive_max_pool3d(x * x, (3, 5, 4)),
]


@pytest.mark.parametrize("fn", POOL_GRADCHECKS)
def test_3d_pools_pass_first_and_second_order_gradcheck(fn):
    x = tg.tensor(np.random.default_rng(4).uniform(-2, 2, (1, 2, 4, 5, 6)), requires_grad=True)
    assert tg.gradcheck(fn, [x])
    assert tg.gradgradcheck(fn, [x])


# ----------------------------------------------------------------------------------------------
# lp pooling, max unpooling, the *_with_indices aliases
# ----------------------------------------------------------------------------------------------

LP = [
    (2, 2, None, False), (3, (2, 3), (1, 2), True), (1.5, 3, 2, True), (1, (3, 1), None, True),
    (-1.0, 2, 1, False), (math.inf, (2, 3), (2, 1), True),
]


@pytest.mark.parametrize("p, k, s, ceil", LP)
def test_lp_pool2d_matches_torch(p, k, s, ceil):
    for shape in [(2, 3, 7, 6), (3, 5, 8)]:  # batched and unbatched
        check_op(lambda x: lp_pool2d(x, p, k, s, ceil), lambda x: TF.lp_pool2d(x, p, k, s, ceil),
                 [shape], low=0.2, high=2.0, gradcheck=shape == (3, 5, 8))


@pytest.mark.parametrize("p, k, s, ceil", [(2, 2, None, False), (3, 3, 2, True),
                                           (1.5, 2, 1, True), (math.inf, 3, 2, True)])
def test_lp_pool1d_matches_torch(p, k, s, ceil):
    for shape in [(2, 3, 9), (3, 8)]:
        check_op(lambda x: lp_pool1d(x, p, k, s, ceil), lambda x: TF.lp_pool1d(x, p, k, s, ceil),
                 [shape], low=0.2, high=2.0)


def test_lp_pool_all_zero_windows_have_torchs_zero_gradient():
    x = np.maximum(_randn(2, 2, 6, 5, seed=5), 0)  # after a ReLU
    x[:, :, :2, :2] = 0
    for p in (1, 2, 3, 1.5):
        out = _compare(lambda t, p=p: lp_pool2d(t, p, 2, 2, True),
                       lambda t, p=p: TF.lp_pool2d(t, p, 2, 2, True), x, np.float64)
        assert out.detach().numpy()[:, :, 0, 0].tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_lp_pool_modules_match_torch_reprs_and_values():
    x = _randn(1, 2, 7, 5, seed=6) ** 2
    layers = [(LPPool2d(2, (3, 2), None, True), torch.nn.LPPool2d(2, (3, 2), None, True)),
              (LPPool1d(3, 2, 1), torch.nn.LPPool1d(3, 2, 1))]
    for ours, theirs in layers:
        assert repr(ours) == repr(theirs)
        inp = x if isinstance(ours, LPPool2d) else x[0]
        assert_close(ours(tg.tensor(inp)), theirs(torch.tensor(inp)))


# (shape, kernel, stride, padding): max pooling with these makes the indices to unpool
UNPOOL2D = [((2, 3, 7, 6), 2, None, 0), ((2, 3, 7, 6), 3, 2, 1),
            ((3, 7, 6), (3, 2), (2, 1), (1, 0)), ((1, 2, 9, 5), 3, 3, 1)]


def _unpool_sizes(shape, pooled, k, s, p, nd: int) -> list:
    """The output_size values to try: the input's size (spatial, and with N, C), and None where
    torch's default size (I - 1) S + K - 2 P is the input's size again (an unbatched shape is
    no output_size)."""
    k, s, p = ((v,) * nd if isinstance(v, int) else v for v in (k, s or k, p))
    default = tuple((i - 1) * s_ + k_ - 2 * p_
                    for i, k_, s_, p_ in zip(pooled[-nd:], k, s, p, strict=True))
    sizes = [shape[-nd:]] + ([shape] if len(shape) == nd + 2 else [])
    return sizes + ([None] if default == tuple(shape[-nd:]) else [])


@pytest.mark.parametrize("shape, k, s, p", UNPOOL2D)
def test_max_unpool2d_inverts_torchs_max_pool2d(shape, k, s, p):
    y, idx = TF.max_pool2d(torch.tensor(_randn(*shape, seed=7)), k, s, p, return_indices=True)
    index = tg.tensor(idx.numpy())
    for output_size in _unpool_sizes(shape, y.shape, k, s, p, 2):
        check_op(lambda v, size=output_size: max_unpool2d(v, index, k, s, p, size),
                 lambda v, size=output_size: TF.max_unpool2d(v, idx, k, s, p, size),
                 [], inputs=[y.numpy()], gradcheck=s is None and output_size == shape)


@pytest.mark.parametrize("shape, k, s, p", [((2, 3, 7), 2, None, 0), ((2, 3, 8), 3, 2, 1),
                                            ((3, 9), 3, 3, 1)])
def test_max_unpool1d_inverts_torchs_max_pool1d(shape, k, s, p):
    y, idx = TF.max_pool1d(torch.tensor(_randn(*shape, seed=8)), k, s, p, return_indices=True)
    index = tg.tensor(idx.numpy())
    for output_size in _unpool_sizes(shape, y.shape, k, s, p, 1):
        check_op(lambda v, size=output_size: max_unpool1d(v, index, k, s, p, size),
                 lambda v, size=output_size: TF.max_unpool1d(v, idx, k, s, p, size),
                 [], inputs=[y.numpy()], gradcheck=s is None and output_size == shape)


def test_max_unpool_with_a_repeated_index_gives_each_input_dy_there_like_torch():
    # overlapping windows can share their max: both copies land on one output entry, and the
    # gradient is torch's gather, dy at the index, for each of them (not the derivative of
    # "the last write wins", which would give the overwritten copy 0)
    x = tg.tensor([[[5.0, 5.0, 7.0]]], requires_grad=True)
    idx = np.array([[[1, 1, 4]]])
    y = max_unpool1d(x, tg.tensor(idx), 3, 1)  # default size (3 - 1) 1 + 3 = 5
    assert y.tolist() == [[[0.0, 5.0, 0.0, 0.0, 7.0]]]
    (y * tg.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]])).sum().backward()
    assert x.grad.tolist() == [[[2.0, 2.0, 5.0]]]
    tx = torch.tensor([[[5.0, 5.0, 7.0]]], requires_grad=True)
    ty = TF.max_unpool1d(tx, torch.tensor(idx), 3, 1)
    (ty * torch.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]])).sum().backward()
    assert tx.grad.tolist() == x.grad.tolist()


def test_max_unpool_modules_match_torch():
    y, idx = TF.max_pool2d(torch.tensor(_randn(1, 2, 5, 7, seed=9)), 3, 2, 1,
                           return_indices=True)
    ours, theirs = MaxUnpool2d(3, 2, 1), torch.nn.MaxUnpool2d(3, 2, 1)
    assert repr(ours) == repr(theirs)
    out = ours(tg.tensor(y.numpy()), tg.tensor(idx.numpy()), output_size=(5, 7))
    assert_close(out, theirs(y, idx, output_size=(5, 7)))
    assert repr(MaxUnpool1d(3, 2, 1)) == repr(torch.nn.MaxUnpool1d(3, 2, 1))


def test_with_indices_aliases_always_return_torchs_indices():
    x = _randn(2, 3, 7, 6, seed=10)
    for dtype in DTYPES:
        _compare(lambda t: max_pool2d_with_indices(t, 3, 2, 1, 2, True, return_indices=False),
                 lambda t: TF.max_pool2d_with_indices(t, 3, 2, 1, 2, True), x, dtype,
                 indices=True)
        _compare(lambda t: max_pool1d_with_indices(t, 2, 1, 1, 1, True),
                 lambda t: TF.max_pool1d_with_indices(t, 2, 1, 1, 1, True), x[0], dtype,
                 indices=True)


# ----------------------------------------------------------------------------------------------
# interpolate
# ----------------------------------------------------------------------------------------------


def _interpolate_pair(x: np.ndarray, dtype, **kwargs):
    """Our and torch's interpolate of x in dtype, with the gradient of one random upstream."""
    ours_in = tg.tensor(x.astype(dtype), requires_grad=True)
    theirs_in = torch.tensor(x.astype(dtype), requires_grad=True)
    ours, theirs = interpolate(ours_in, **kwargs), TF.interpolate(theirs_in, **kwargs)
    u = np.random.default_rng(11).standard_normal(ours.shape).astype(dtype)
    (ours * tg.tensor(u)).sum().backward()
    (theirs * torch.tensor(u)).sum().backward()
    return ours, theirs, ours_in.grad, theirs_in.grad


@pytest.mark.parametrize("mode, shape", [("linear", (2, 3, 7)), ("bilinear", (2, 2, 5, 7)),
                                         ("trilinear", (1, 2, 3, 4, 5))])
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_modes_keep_an_axis_whose_size_does_not_change(mode, shape, dtype):
    # 1.05 keeps every size below 20: torch copies those axes instead of shifting them by 1/1.05
    for scale in [1.05, (1.05, 1.6, 1.05)[:len(shape) - 2], (1.6, 1.05, 2.0)[:len(shape) - 2]]:
        ours, theirs, g, tg_ = _interpolate_pair(_randn(*shape, seed=12), dtype,
                                                 scale_factor=scale, mode=mode)
        assert_close(ours, theirs, dtype, f"forward, scale {scale}")
        assert_close(g, tg_, dtype, f"gradient, scale {scale}")


def test_linear_resize_that_keeps_every_size_returns_a_new_tensor():
    x = tg.tensor(_randn(1, 2, 3, 4, seed=22), requires_grad=True)
    y = interpolate(x, scale_factor=1.05, mode="bilinear")  # (3, 4) -> (3, 4): a copy
    assert y is not x
    assert_close(y, x.detach())
    (y * 2.0).sum().backward()
    assert (x.grad.numpy() == 2.0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_nearest_2d_copies_a_kept_axis_and_halves_a_doubled_one_like_torch(dtype):
    x = _randn(2, 3, 10, 10, seed=13)
    for scale in [(1.05, 1.55), (1.55, 2.05), (2.05, 1.05)]:
        ours, theirs, g, tg_ = _interpolate_pair(x, dtype, scale_factor=scale)
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
        assert_close(g, tg_, dtype, f"gradient, scale {scale}")


@pytest.mark.parametrize("mode, n, scale", [
    ("nearest", 20, 19 / 3),  # j = 95: j s = 15 exactly; 14.999999 in float32, so 14 there
    ("nearest", 31, 46 / 27),  # j = 46: 27
    ("nearest", 29, 10 / 13),
    ("nearest-exact", 23, 20.5),  # j = 20: (20.5) / 20.5 = 1
    ("nearest-exact", 17, 19 / 6),
])
@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nearest_positions_on_an_integer_round_like_torch(mode, n, scale, dims, dtype):
    shape = (2, 2) + (2,) * (dims - 1) + (n,)
    scales = (1.0,) * (dims - 1) + (scale,)
    x = np.broadcast_to(np.arange(n, dtype=np.float64), shape).copy()
    ours = interpolate(tg.tensor(x.astype(dtype)), scale_factor=scales, mode=mode)
    theirs = TF.interpolate(torch.tensor(x.astype(dtype)), scale_factor=scales, mode=mode)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


MODES = {1: ["nearest", "nearest-exact", "linear", "area"],
         2: ["nearest", "nearest-exact", "bilinear", "bicubic", "area"],
         3: ["nearest", "nearest-exact", "trilinear", "area"]}
SHAPES = {1: (2, 3, 7), 2: (2, 2, 5, 7), 3: (1, 2, 3, 4, 5)}
RESIZES = [
    {"size": 1}, {"size": 4}, {"size": 11}, {"scale_factor": 0.5}, {"scale_factor": 0.7},
    {"scale_factor": 1.3}, {"scale_factor": 2.5}, {"scale_factor": 1 / 3 * 4},
    {"scale_factor": 2.9, "recompute_scale_factor": True},
    {"scale_factor": 0.6, "recompute_scale_factor": False},
]


def _torch_backward_disagrees(mode: str, n_in: tuple, n_out: tuple) -> bool:
    """Where torch's backward is not the adjoint of its forward (a torch bug): its 1-d and 3-d
    "nearest" backward copies an axis that keeps its size and halves one that doubles, and its
    bicubic backward copies an image that keeps its size, while the forwards use the scale."""
    if mode == "nearest" and len(n_in) != 2:
        return any(o in (i, 2 * i) for i, o in zip(n_in, n_out, strict=True))
    return mode == "bicubic" and n_in == n_out


def _assert_adjoint(x: np.ndarray, g, u: np.ndarray, **kwargs):
    """<y(x'), u> = <x', g> for a second x': g is the adjoint of the forward applied to u."""
    x2 = np.random.default_rng(21).standard_normal(x.shape)
    y2 = interpolate(tg.tensor(x2), **kwargs).numpy()
    assert np.isclose((y2 * u).sum(), (x2 * g.numpy()).sum())


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("resize", RESIZES, ids=str)
def test_interpolate_matches_torch_for_every_mode(dims, resize):
    x = _randn(*SHAPES[dims], seed=14)
    for mode in MODES[dims]:
        corners = [None, True] if mode in ("linear", "bilinear", "bicubic", "trilinear") else [None]
        for align_corners in corners:
            for dtype in DTYPES:
                kwargs = dict(mode=mode, align_corners=align_corners, **resize)
                ours, theirs, g, tg_ = _interpolate_pair(x, dtype, **kwargs)
                what = f"{mode}, align_corners={align_corners}, {resize}, {dtype.__name__}"
                assert_close(ours, theirs, dtype, "forward " + what)
                if _torch_backward_disagrees(mode, x.shape[2:], tuple(ours.shape[2:])):
                    if dtype == np.float64:
                        u = np.random.default_rng(11).standard_normal(ours.shape)
                        _assert_adjoint(x, g, u, **kwargs)
                    continue
                assert_close(g, tg_, dtype, "gradient " + what)


@pytest.mark.parametrize("mode, shape, scale", [("nearest", (1, 2, 10), 1.05),
                                                ("nearest", (1, 2, 10), 2.05),
                                                ("nearest", (1, 1, 3, 4, 5), 1.1),
                                                ("bicubic", (1, 2, 5, 7), 1.05)])
def test_gradient_is_the_adjoint_where_torchs_backward_disagrees_with_its_forward(mode, shape,
                                                                                  scale):
    # torch's forward uses the scale here but its backward copies / halves (a torch bug): ours
    # follows torch's forward, and the gradient is that forward's adjoint, <y(x'), u> = <x', g>
    x = _randn(*shape, seed=15)
    ours, theirs, g, tg_ = _interpolate_pair(x, np.float64, scale_factor=scale, mode=mode)
    assert_close(ours, theirs)
    assert _torch_backward_disagrees(mode, shape[2:], tuple(ours.shape[2:]))
    u = np.random.default_rng(11).standard_normal(ours.shape)  # the upstream of the pair
    _assert_adjoint(x, g, u, scale_factor=scale, mode=mode)
    x2 = np.random.default_rng(21).standard_normal(shape)
    y2_torch = TF.interpolate(torch.tensor(x2), scale_factor=scale, mode=mode).numpy()
    assert not np.isclose((y2_torch * u).sum(), (x2 * tg_.numpy()).sum())  # torch's mismatch


@pytest.mark.parametrize("kwargs", [
    {"scale_factor": (1.7, 0.6), "mode": "bicubic"},
    {"size": (3, 8), "mode": "bilinear", "align_corners": True},
    {"scale_factor": 1.05, "mode": "bilinear"},
    {"scale_factor": (1.05, 2.05), "mode": "nearest"},
    {"size": (2, 3), "mode": "area"},
])
def test_interpolate_passes_first_and_second_order_gradcheck(kwargs):
    x = tg.tensor(np.random.default_rng(17).uniform(-2, 2, (1, 2, 4, 6)), requires_grad=True)
    fn = lambda t: interpolate(t * t, **kwargs)  # noqa: E731
    assert tg.gradcheck(fn, [x])
    assert tg.gradgradcheck(fn, [x])


# ----------------------------------------------------------------------------------------------
# Unfold / Fold
# ----------------------------------------------------------------------------------------------

# (shape, kernel_size, dilation, padding, stride)
FOLDS = [((2, 3, 7, 6), 2, 1, 0, 1), ((2, 3, 7, 6), (3, 2), (2, 1), (1, 0), (2, 3)),
         ((3, 5, 4), 3, 1, 1, 2), ((1, 2, 9, 8), (2, 3), 2, 1, (3, 2))]


@pytest.mark.parametrize("shape, k, d, p, s", FOLDS)
def test_unfold_and_fold_match_torch(shape, k, d, p, s):
    check_op(Unfold(k, d, p, s), torch.nn.Unfold(k, d, p, s), [shape], gradcheck=False)
    cols = torch.nn.Unfold(k, d, p, s)(torch.tensor(_randn(*shape, seed=18)))
    check_op(Fold(shape[-2:], k, d, p, s), torch.nn.Fold(shape[-2:], k, d, p, s), [],
             inputs=[cols.numpy()], gradcheck=False)


def test_fold_and_unfold_pass_gradcheck():
    cols = tg.tensor(_randn(2, 12, 18, seed=19), requires_grad=True)
    assert tg.gradgradcheck(lambda c: Fold((5, 6), (2, 3), 1, 1, (2, 1))(c * c), [cols])
    x = tg.tensor(_randn(3, 5, 4, seed=20), requires_grad=True)
    assert tg.gradgradcheck(lambda t: Unfold(3, 1, 1, 2)(t * t), [x])


@pytest.mark.parametrize("layer, x, message", [
    (Fold((3, 4), 0), (1, 4, 6), "Fold: kernel_size must be >= 1, got 0"),
    (Fold((3, 4), 2, stride=0), (1, 4, 6), "Fold: stride must be >= 1, got 0"),
    (Fold((3, 4), 2, padding=-1), (1, 4, 6), "Fold: padding must be >= 0, got -1"),
    (Fold((3, 4, 5), 2), (1, 4, 6), "Fold: output_size must be an int or a pair of ints (h, w), "
                                     "got (3, 4, 5)"),
    (Fold((1, 4), 2), (1, 4, 3), "Fold: kernel_size (2, 2) with dilation (1, 1) and padding "
                                 "(0, 0) does not fit output_size (1, 4): stride (1, 1) gives "
                                 "0 x 3 sliding blocks"),
    (Unfold(0), (1, 1, 3, 4), "Unfold: kernel_size must be >= 1, got 0"),
    (Unfold((2, 2, 2)), (1, 1, 3, 4), "Unfold: kernel_size must be an int or a pair of ints"),
    (Unfold(2, dilation=0), (1, 1, 3, 4), "Unfold: dilation must be >= 1, got 0"),
    (Unfold(5), (1, 1, 3, 4), "Unfold: kernel_size (5, 5) with dilation (1, 1) and padding "
                              "(0, 0) does not fit input of size (3, 4)"),
])
def test_fold_and_unfold_bad_arguments_name_the_layer(layer, x, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        layer(tg.zeros(*x))


# ----------------------------------------------------------------------------------------------
# Errors that name the op, what it expected and what arrived
# ----------------------------------------------------------------------------------------------

x5 = tg.zeros(1, 2, 3, 4, 5)
ERRORS = [
    (lambda: max_pool3d(tg.zeros(2, 3, 4), 2), ValueError,
     r"max_pool3d: expected a 4-d \(C, D, H, W\) or 5-d \(N, C, D, H, W\) input, got shape "
     r"\(2, 3, 4\)"),
    (lambda: max_pool3d(tg.tensor(np.ones((1, 1, 2, 2, 2), dtype=np.int64)), 2), TypeError,
     "max_pool3d: expected a floating-point input, got dtype int64"),
    (lambda: max_pool3d(x5, 4), ValueError,
     r"max_pool3d: kernel \(4, 4, 4\) .* gives output size \(0, 1, 1\) for input of size "
     r"\(3, 4, 5\) \(x: \(1, 2, 3, 4, 5\)\)"),
    (lambda: max_pool3d(x5, 2, padding=2), ValueError,
     r"max_pool3d: padding \(2, 2, 2\) must be >= 0 and at most half the kernel size"),
    (lambda: max_pool3d(x5, (2, 2)), ValueError, "max_pool3d: kernel_size must be an int or a "
                                                 "triple"),
    (lambda: max_pool3d(tg.zeros(1, 0, 3, 4, 5), 2), ValueError,
     r"max_pool3d: expected a non-empty input apart from the batch dim, got shape"),
    (lambda: avg_pool3d(x5, 2, divisor_override=0), ValueError,
     "avg_pool3d: divisor_override must be a non-zero int or None, got 0"),
    (lambda: adaptive_avg_pool3d(x5, (1, 2)), ValueError,
     r"adaptive_avg_pool3d: output_size must be an int or a triple \(OD, OH, OW\)"),
    (lambda: adaptive_max_pool3d(x5, 0), ValueError,
     "adaptive_max_pool3d: output_size must be >= 1, got 0"),
    (lambda: lp_pool2d(tg.zeros(1, 2, 5, 5), 2, 6), ValueError,
     r"lp_pool2d: kernel_size \(6, 6\) with stride \(6, 6\) gives output size \(0, 0\) for "
     r"input of size \(5, 5\)"),
    (lambda: lp_pool1d(tg.zeros(1, 2, 5), 0, 2), ValueError, "lp_pool1d: norm_type must be "
                                                             "nonzero"),
    (lambda: max_unpool2d(tg.zeros(1, 1, 2, 2), tg.tensor(np.zeros((1, 1, 2, 1), np.int64)), 2),
     ValueError, r"max_unpool2d: expected indices of the input's shape \(1, 1, 2, 2\), got "
                 r"indices of shape \(1, 1, 2, 1\)"),
    (lambda: max_unpool2d(tg.zeros(1, 1, 2, 2), tg.tensor(np.full((1, 1, 2, 2), 16)), 2),
     IndexError, r"max_unpool2d: found an invalid max index 16 \(output planes are of size 4x4"),
    (lambda: max_unpool1d(tg.zeros(1, 1, 2), tg.tensor(np.zeros((1, 1, 2), np.int64)), 2,
                          output_size=(7,)), ValueError,
     r"max_unpool1d: invalid output_size \(7,\) \(dim 0 must be strictly between 2 and 6"),
    (lambda: interpolate(tg.zeros(1, 2, 3), size=4, scale_factor=2), ValueError,
     r"interpolate: give exactly one of size and scale_factor, got size=4 and scale_factor=2 "
     r"\(input shape \(1, 2, 3\)\)"),
    (lambda: interpolate(tg.zeros(1, 2, 3, 3), size=(4, 4, 4)), ValueError,
     r"interpolate: size must have 2 entries for an input with 2 spatial dims, got \(4, 4, 4\)"),
    (lambda: interpolate(tg.zeros(1, 2, 3), size=4.0), ValueError,
     r"interpolate: size must be positive ints \(one, or 1 of them\), got 4.0"),
    (lambda: interpolate(tg.zeros(1, 2, 3), size=4, mode="bilinear"), ValueError,
     r"interpolate: mode 'bilinear' takes a 4-d input, got shape \(1, 2, 3\)"),
    (lambda: interpolate(tg.zeros(1, 2, 3), scale_factor=0.1), ValueError,
     r"interpolate: scale_factor 0.1 makes an empty output from spatial size \(3,\)"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_bad_input_errors_name_the_op_and_the_shapes(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_functional_unfold_and_fold_check_their_arguments_and_take_unbatched_input():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    ours = tg.nn.functional.unfold(tg.tensor(x), (2, 3), padding=1)
    theirs = TF.unfold(torch.tensor(x), (2, 3), padding=1)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    back = tg.nn.functional.fold(ours, (3, 4), (2, 3), padding=1)
    np.testing.assert_allclose(back.numpy(), TF.fold(theirs, (3, 4), (2, 3), padding=1).numpy())
    for call, match in (
            (lambda: tg.nn.functional.fold(tg.randn(1, 4, 4), (3, 3), 0),
             "fold: kernel_size must be >= 1, got 0"),
            (lambda: tg.nn.functional.unfold(tg.randn(1, 1, 3, 3), 2, stride=0),
             "unfold: stride must be >= 1, got 0"),
            (lambda: tg.nn.functional.unfold(tg.randn(1, 1, 3, 3), 5),
             r"unfold: kernel_size \(5, 5\) .* does not fit input of size \(3, 3\)"),
            (lambda: tg.nn.functional.unfold(tg.randn(3, 3), 2),
             r"unfold: expected a 3D \(C, H, W\) or 4D")):
        with pytest.raises(ValueError, match=match):
            call()
