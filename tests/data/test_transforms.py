"""Batch-wise transforms: layouts, statistics, and what each augmentation may change."""

import numpy as np
import pytest
import scipy.ndimage

from tinygrad_edu.data import transforms as T


def _images(shape, seed=0, dtype=np.uint8):
    return np.random.default_rng(seed).integers(0, 256, shape).astype(dtype)


def test_compose_applies_in_order():
    pipeline = T.Compose([T.Lambda(lambda x: x + 1), T.Lambda(lambda x: x * 10)])
    assert pipeline(np.array([1, 2])).tolist() == [20, 30]
    with pytest.raises(TypeError, match="callable"):
        T.Compose([1])


@pytest.mark.parametrize(
    "shape, layout, expected",
    [
        ((28, 28), "auto", (1, 28, 28)),
        ((32, 32, 3), "auto", (3, 32, 32)),
        ((5, 28, 28), "auto", (5, 1, 28, 28)),
        ((5, 32, 32, 3), "auto", (5, 3, 32, 32)),
        ((5, 3, 32, 32), "auto", (5, 3, 32, 32)),
        ((4, 4, 3), "NHW", (4, 1, 4, 3)),
    ],
)
def test_to_float_layouts(shape, layout, expected):
    x = _images(shape)
    out = T.ToFloat(layout=layout)(x)
    assert out.shape == expected and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_allclose(np.sort(out.ravel()), np.sort(x.ravel() / 255.0), rtol=1e-6)


def test_to_float_channel_order_nhwc():
    x = _images((2, 4, 5, 3))
    out = T.ToFloat(scale=1.0)(x)
    np.testing.assert_array_equal(out[1, 2], x[1, :, :, 2])


def test_to_float_errors():
    with pytest.raises(ValueError, match="layout 'NHWC' needs a 4-d array"):
        T.ToFloat(layout="NHWC")(np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="layout must be one of"):
        T.ToFloat(layout="WHC")


def test_normalize_gives_zero_mean_unit_std_per_channel():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3, 8, 8)) * [[[[2.0]], [[0.5]], [[3.0]]]] + [
        [[[1.0]], [[-2.0]], [[5.0]]]
    ]
    x = x.astype(np.float32)
    mean = x.mean(axis=(0, 2, 3))
    std = x.std(axis=(0, 2, 3))
    out = T.Normalize(mean, std)(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1.0, atol=1e-5)
    single = T.Normalize(mean, std)(x[0])  # (C, H, W)
    np.testing.assert_allclose(single, out[0], rtol=1e-6)
    scalar = T.Normalize(0.5, 0.25)(np.ones((2, 1, 3, 3), np.float32))
    np.testing.assert_allclose(scalar, 2.0)


def test_normalize_errors():
    with pytest.raises(ValueError, match=r"3 means/stds need a \(N, 3, H, W\).*\(2, 1, 4, 4\)"):
        T.Normalize([0.0] * 3, [1.0] * 3)(np.zeros((2, 1, 4, 4)))
    with pytest.raises(ValueError, match="std must be positive"):
        T.Normalize(0.0, 0.0)


def test_flip_twice_is_identity_and_flip_is_a_mirror():
    x = _images((6, 3, 5, 7))
    flip = T.RandomHorizontalFlip(p=1.0)
    once = flip(x)
    np.testing.assert_array_equal(once, x[..., ::-1])
    np.testing.assert_array_equal(flip(once), x)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)


def test_random_flip_is_per_image_and_seeded():
    x = _images((200, 4, 4))
    a = T.RandomHorizontalFlip(p=0.5, seed=3)(x)
    b = T.RandomHorizontalFlip(p=0.5, seed=3)(x)
    np.testing.assert_array_equal(a, b)
    flipped = np.array([np.array_equal(a[n], x[n, :, ::-1]) for n in range(200)])
    kept = np.array([np.array_equal(a[n], x[n]) for n in range(200)])
    assert np.all(flipped | kept)
    assert 60 < flipped.sum() < 140
    assert x.flags.writeable and np.array_equal(x, _images((200, 4, 4)))  # input untouched


@pytest.mark.parametrize("shape", [(8, 10, 10), (8, 3, 10, 10)])
def test_random_crop_with_padding_keeps_shape_and_takes_a_window(shape):
    x = _images(shape) + 1  # so the zero padding is recognizable (values 1..256 as int64)
    x = x.astype(np.int64)
    out = T.RandomCrop(10, padding=3, seed=0)(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    pad = [(0, 0)] * (x.ndim - 2) + [(3, 3), (3, 3)]
    padded = np.pad(x, pad)
    for n in range(shape[0]):
        windows = [
            (oy, ox)
            for oy in range(7)
            for ox in range(7)
            if np.array_equal(padded[n, ..., oy : oy + 10, ox : ox + 10], out[n])
        ]
        assert windows, f"image {n} is not a 10x10 window of the padded input"
    np.testing.assert_array_equal(T.RandomCrop(10, padding=0)(x), x)  # no room to move


def test_random_crop_smaller_and_errors():
    out = T.RandomCrop((4, 6), seed=1)(_images((3, 2, 8, 8)))
    assert out.shape == (3, 2, 4, 6)
    with pytest.raises(ValueError, match="larger than the padded image"):
        T.RandomCrop(12, padding=1)(_images((2, 8, 8)))
    with pytest.raises(ValueError, match=r"batch of images .* got shape \(8, 8\)"):
        T.RandomCrop(4)(_images((8, 8)))


def test_random_shift_moves_content_by_at_most_max_shift():
    x = np.zeros((50, 9, 9), dtype=np.uint8)
    x[:, 4, 4] = 255  # one bright pixel in the center
    out = T.RandomShift(max_shift=2, seed=0)(x)
    assert out.shape == x.shape
    ys, xs = np.nonzero(out.reshape(50, 9, 9) == 255)[1:]
    assert len(ys) == 50  # the pixel is never pushed out
    assert np.abs(ys - 4).max() <= 2 and np.abs(xs - 4).max() <= 2
    assert len(set(zip(ys.tolist(), xs.tolist(), strict=True))) > 5  # shifts vary per image


def test_rotation_zero_and_ninety_degrees():
    x = np.random.default_rng(0).random((3, 2, 7, 7)).astype(np.float32)
    np.testing.assert_allclose(T.RandomRotation(0)(x), x, atol=1e-6)
    quarter = T.RandomRotation((90, 90))(x)
    np.testing.assert_allclose(quarter, np.rot90(x, k=1, axes=(2, 3)), atol=1e-5)


def test_rotation_matches_scipy_bilinear():
    x = np.random.default_rng(1).random((2, 20, 20)).astype(np.float32)
    out = T.RandomRotation((17, 17))(x)
    for n in range(2):
        expected = scipy.ndimage.rotate(x[n], 17, reshape=False, order=1, mode="constant")
        np.testing.assert_allclose(out[n, 3:-3, 3:-3], expected[3:-3, 3:-3], atol=1e-4)


def test_rotation_keeps_integer_dtype_and_is_seeded():
    x = _images((4, 12, 12))
    a = T.RandomRotation(15, seed=5)(x)
    b = T.RandomRotation(15, seed=5)(x)
    assert a.dtype == np.uint8 and a.shape == x.shape
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, x)
    with pytest.raises(ValueError, match="degrees must be >= 0"):
        T.RandomRotation(-5)


def test_full_pipeline_on_uint8_batch():
    x = _images((16, 28, 28))
    pipeline = T.Compose(
        [
            T.ToFloat(),
            T.RandomCrop(28, padding=2, seed=0),
            T.RandomRotation(10, seed=0),
            T.Normalize(0.1307, 0.3081),
            T.Flatten(),
        ]
    )
    out = pipeline(x)
    assert out.shape == (16, 784) and out.dtype == np.float32
    assert np.isfinite(out).all()


# ---------------------------------------------------------------------------------------------
# Inputs are never written to; bad arguments and empty batches
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1.0 / 255.0, 1.0])
def test_to_float_never_writes_into_a_float32_input(scale):
    x = np.random.default_rng(0).random((2, 3, 4, 4)).astype(np.float32)
    before = x.copy()
    out = T.ToFloat(scale=scale)(x)
    assert out is not x and not np.shares_memory(out, x)
    np.testing.assert_array_equal(x, before)  # the caller's array is untouched
    np.testing.assert_allclose(out, before * np.float32(scale), rtol=1e-6)
    x.flags.writeable = False  # like the cached data set arrays
    out = T.ToFloat(scale=scale)(x)
    assert out.flags.writeable and out.flags.c_contiguous
    np.testing.assert_allclose(out, before * np.float32(scale), rtol=1e-6)


def test_to_float_of_a_read_only_channels_last_float_batch():
    x = np.ones((2, 4, 4, 3), np.float32)
    x.flags.writeable = False
    out = T.ToFloat()(x)
    assert out.shape == (2, 3, 4, 4) and out.flags.c_contiguous
    np.testing.assert_allclose(out, 1 / 255, rtol=1e-6)
    with pytest.raises(ValueError, match="scale must be a finite number"):
        T.ToFloat(scale=float("nan"))


@pytest.mark.parametrize("size", [0, -1, (4, 0), (0, 4), 4.0, (4, 2.5), "4"])
def test_random_crop_refuses_sizes_below_one_or_not_ints(size):
    with pytest.raises(ValueError, match=r"RandomCrop: size must be"):
        T.RandomCrop(size)


def test_random_crop_argument_errors_name_the_class():
    with pytest.raises(ValueError, match=r"RandomCrop: padding must be an int >= 0, got -1"):
        T.RandomCrop(4, padding=-1)
    with pytest.raises(ValueError, match=r"RandomCrop: padding must be an int >= 0, got 1.5"):
        T.RandomCrop(4, padding=1.5)
    with pytest.raises(ValueError, match=r"RandomShift: max_shift must be an int >= 0, got -1"):
        T.RandomShift(max_shift=-1)
    with pytest.raises(
        ValueError,
        match=r"crop size \(12, 12\) is larger than the padded image \(10, 10\).*at most",
    ):
        T.RandomCrop(12, padding=1)(_images((2, 8, 8)))
    with pytest.raises(ValueError, match=r"fill -1 does not fit the uint8 images"):
        T.RandomCrop(8, padding=1, fill=-1)(_images((2, 8, 8)))
    out = T.RandomCrop(8, padding=1, fill=-1)(_images((2, 8, 8)).astype(np.float32))
    assert out.min() >= -1


def test_rotation_refuses_reversed_or_non_finite_ranges():
    with pytest.raises(ValueError, match=r"RandomRotation: degrees \(lo, hi\) needs lo <= hi"):
        T.RandomRotation((10, -10))
    with pytest.raises(ValueError, match="degrees must be >= 0"):
        T.RandomRotation(float("nan"))
    with pytest.raises(ValueError, match="degrees must be finite"):
        T.RandomRotation((0, float("inf")))
    with pytest.raises(ValueError, match="a number or a pair"):
        T.RandomRotation((0, 1, 2))
    x = _images((3, 6, 6))
    np.testing.assert_array_equal(T.RandomRotation((5, 5))(x), T.RandomRotation((5, 5))(x))


def test_normalize_refuses_nan_statistics():
    with pytest.raises(ValueError, match="Normalize: mean and std must be finite"):
        T.Normalize(0.0, float("nan"))
    with pytest.raises(ValueError, match="Normalize: mean and std must be finite"):
        T.Normalize([float("nan")], [1.0])


@pytest.mark.parametrize("shape", [(0, 8, 8), (0, 3, 8, 8)])
def test_transforms_accept_an_empty_batch(shape):
    x = np.zeros(shape, np.uint8)
    for transform in (
        T.RandomCrop(6, padding=1, seed=0),
        T.RandomShift(2, seed=0),
        T.RandomHorizontalFlip(seed=0),
        T.RandomRotation(10, seed=0),
    ):
        out = transform(x)
        assert out.shape[0] == 0 and out.dtype == x.dtype, transform
    assert T.RandomRotation(10)(x).shape == shape
    assert T.Flatten()(x).shape == (0, int(np.prod(shape[1:])))  # torch: (0, C*H*W)
    assert T.ToFloat()(x).shape[0] == 0


def test_flatten_matches_torch_and_refuses_a_scalar():
    torch = pytest.importorskip("torch")
    for shape in [(0, 3, 4), (2, 3, 4), (5, 1)]:
        x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
        expected = torch.nn.Flatten()(torch.from_numpy(x)).numpy()
        np.testing.assert_array_equal(T.Flatten()(x), expected)
    with pytest.raises(ValueError, match="Flatten: expects a batch"):
        T.Flatten()(np.float32(1.0))
