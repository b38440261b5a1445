"""Batch-wise image transforms on NumPy arrays (data augmentation without a Python loop).

Every transform takes a whole batch and returns a new array; nothing is changed in place
(except by ``Normalize(..., inplace=True)``, as in torchvision). The
random ones draw, per image, from their own ``numpy.random.Generator`` built from ``seed`` (an
int, a Generator, or None for fresh entropy), so ``seed=0`` gives the same augmentations every
run. Pass them to ``DataLoader(..., transform=...)``, which applies them to the inputs of each
batch.

Layouts: N batch, C channels, H height, W width. The random transforms work on batches of shape
(N, H, W) or (N, C, H, W) and touch only the last two axes.

>>> import numpy as np
>>> images = np.random.default_rng(0).integers(0, 256, (8, 28, 28), dtype=np.uint8)  # (N, H, W)
>>> augment = Compose([ToFloat(), RandomCrop(28, padding=2, seed=0),
...                    Normalize(0.1307, 0.3081)])
>>> augment(images).shape, augment(images).dtype
((8, 1, 28, 28), dtype('float32'))
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "Compose",
    "Lambda",
    "ToFloat",
    "Normalize",
    "Flatten",
    "RandomCrop",
    "RandomShift",
    "RandomHorizontalFlip",
    "RandomRotation",
]


def _as_batch(name: str, x) -> np.ndarray:
    """Check that ``x`` is a batch (N, H, W) or (N, C, H, W) and return it as a NumPy array."""
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{name}: expects a batch of images (N, H, W) or (N, C, H, W), got shape {x.shape}; "
            "use x[None] to make a batch of one"
        )
    return x


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _pair(name: str, value, what: str = "size") -> tuple[int, int]:
    """``value`` as a pair (H, W) of positive ints (an int n means (n, n))."""
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, Sequence) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{name}: {what} must be an int or a pair of ints (H, W), got {value!r}")
    if min(pair) < 1:
        raise ValueError(f"{name}: {what} must be >= 1 in both dimensions, got {value!r}")
    return pair


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_fill(name: str, fill, dtype: np.dtype) -> None:
    """Refuse a ``fill`` that an integer image cannot hold (np.pad would wrap -1 to 255, and
    write 0.5 as 0)."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if not (info.min <= fill <= info.max and float(fill).is_integer()):
            raise ValueError(
                f"{name}: fill {fill!r} does not fit the {dtype} images (whole numbers "
                f"{info.min}..{info.max}); convert them with ToFloat() first or choose such a "
                "fill"
            )


class Compose:
    """Apply transforms one after another: ``Compose([f, g])(x) == g(f(x))``."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {t!r}")

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"


class Lambda:
    """Wrap any function of the batch as a transform: ``Lambda(lambda x: x * 2)``."""

    def __init__(self, fn: Callable):
        if not callable(fn):
            raise TypeError(f"Lambda: expected a callable, got {fn!r}")
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)


_LAYOUTS = ("auto", "HW", "HWC", "CHW", "NHW", "NHWC", "NCHW")


class ToFloat:
    """uint8 images -> float32 in channels-first layout, scaled by ``scale`` (like ToTensor).

    ``x_out = x * scale`` with a layout change, always in a new array (the input is never
    modified, even when it is already float32):

    - HW (one grayscale image) -> (1, H, W);
    - HWC (one color image) -> (C, H, W);
    - NHW (an MNIST-style batch) -> (N, 1, H, W);
    - NHWC (a CIFAR-style batch, like torchvision's ``.data``) -> (N, C, H, W);
    - CHW and NCHW keep their layout and are only cast and scaled.

    ``layout="auto"`` guesses from the shape: 2-d is HW; 3-d is HWC when the last axis has 1, 3
    or 4 entries and fewer than the first axis, else NHW; 4-d is NHWC when the last axis has 1, 3
    or 4 entries and fewer than axis 1, else NCHW. Give ``layout`` when a shape is ambiguous.

    >>> ToFloat()(np.full((2, 28, 28), 255, np.uint8)).shape
    (2, 1, 28, 28)
    """

    def __init__(self, scale: float = 1.0 / 255.0, layout: str = "auto"):
        if layout not in _LAYOUTS:
            raise ValueError(f"ToFloat: layout must be one of {_LAYOUTS}, got {layout!r}")
        if not _is_real(scale) or not np.isfinite(scale):
            raise ValueError(f"ToFloat: scale must be a finite number, got {scale!r}")
        self.scale = scale
        self.layout = layout

    def _guess_layout(self, shape: tuple) -> str:
        def channels_last(first: int, last: int) -> bool:
            return last in (1, 3, 4) and last < first

        if len(shape) == 2:
            return "HW"
        if len(shape) == 3:
            return "HWC" if channels_last(shape[0], shape[-1]) else "NHW"
        if len(shape) == 4:
            return "NHWC" if channels_last(shape[1], shape[-1]) else "NCHW"
        raise ValueError(
            f"ToFloat: expects an image (HW, HWC, CHW) or a batch (NHW, NHWC, NCHW), got shape "
            f"{shape}"
        )

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x)
        layout = self._guess_layout(x.shape) if self.layout == "auto" else self.layout
        if len(layout) != x.ndim:
            raise ValueError(
                f"ToFloat: layout {layout!r} needs a {len(layout)}-d array, got shape {x.shape}"
            )
        if layout == "HW":
            x = x[None]  # (1, H, W)
        elif layout == "HWC":
            x = x.transpose(2, 0, 1)  # (C, H, W)
        elif layout == "NHW":
            x = x[:, None]  # (N, 1, H, W)
        elif layout == "NHWC":
            x = x.transpose(0, 3, 1, 2)  # (N, C, H, W)
        # np.array(..., copy=True) always makes a new array: a float32 input (maybe read-only,
        # like the cached data sets) is never scaled in place or handed back.
        out = np.array(x, dtype=np.float32, order="C", copy=True)
        if self.scale != 1:
            out *= np.float32(self.scale)
        return out

    def __repr__(self) -> str:
        return f"ToFloat(scale={self.scale:.6g}, layout={self.layout!r})"


class Normalize:
    """Per-channel standardization: ``out[:, c] = (x[:, c] - mean[c]) / std[c]``.

    ``mean`` and ``std`` are numbers (same for every channel) or sequences with one entry per
    channel C. Works on (N, C, H, W) batches and (C, H, W) images; the input must be floating
    point (as in torchvision: ``ToFloat()`` first turns uint8 pixels into [0, 1] floats), and
    the result is float32 (or float64 when the input is float64). ``inplace=True`` writes the
    result into ``x`` (a writable float32/float64 NumPy array) and returns it.

    >>> x = np.ones((2, 3, 4, 4), np.float32)
    >>> Normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])(x).max()
    np.float32(1.0)
    """

    def __init__(self, mean, std, inplace: bool = False):
        if not isinstance(inplace, bool):
            raise TypeError(f"Normalize: inplace must be True or False, got {inplace!r}")
        self.inplace = inplace
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if self.mean.shape != self.std.shape:
            raise ValueError(
                f"Normalize: mean has {self.mean.size} entries but std has {self.std.size}"
            )
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.std))):
            raise ValueError(
                f"Normalize: mean and std must be finite, got mean {self.mean.tolist()} and std "
                f"{self.std.tolist()}"
            )
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be positive, got {self.std.tolist()}")

    def __call__(self, x) -> np.ndarray:
        given = x
        x = np.asarray(x)
        if x.dtype.kind != "f":
            raise TypeError(
                f"Normalize: expects floating-point images, got dtype {x.dtype} (shape "
                f"{x.shape}); apply ToFloat() first (uint8 0..255 -> float32 0..1), as "
                "torchvision's Normalize needs ToTensor()"
            )
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float32
        channels = self.mean.size
        if channels == 1:
            shape = ()
        elif x.ndim == 4 and x.shape[1] == channels:
            shape = (1, channels, 1, 1)  # NCHW
        elif x.ndim == 3 and x.shape[0] == channels:
            shape = (channels, 1, 1)  # CHW
        else:
            raise ValueError(
                f"Normalize: {channels} means/stds need a (N, {channels}, H, W) batch or a "
                f"({channels}, H, W) image, got shape {x.shape}; ToFloat() puts channels first"
            )
        mean = self.mean.reshape(shape).astype(dtype)
        std = self.std.reshape(shape).astype(dtype)
        if self.inplace:
            if given is not x or x.dtype != dtype or not x.flags.writeable:
                raise ValueError(
                    f"Normalize(inplace=True): needs a writable float32 or float64 NumPy array "
                    f"to write into, got {type(given).__name__} of dtype {x.dtype}"
                    f"{'' if x.flags.writeable else ' (read-only)'}"
                )
            x -= mean
            x /= std
            return x
        return (x.astype(dtype, copy=False) - mean) / std

    def __repr__(self) -> str:
        return (f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()}, "
                f"inplace={self.inplace})")


class Flatten:
    """(N, ...) -> (N, D): one feature vector per example, for an MLP.

    D is the product of the other axes, so an empty batch (0, H, W) gives (0, H*W) as in torch.
    """

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == 0:
            raise ValueError("Flatten: expects a batch (N, ...), got a 0-d scalar")
        D = int(np.prod(x.shape[1:], dtype=np.int64))  # features per example
        return x.reshape(x.shape[0], D)  # (N, D); -1 cannot be inferred when N == 0


class RandomCrop:
    """Pad every image by ``padding`` pixels, then cut a random ``size`` window from each.

    Each image of the batch gets its own offset (oy, ox), drawn uniformly from the valid range:
    ``out[n] = padded[n, ..., oy:oy + h, ox:ox + w]``. All N windows are gathered with one fancy
    index instead of a loop over images.

    >>> x = np.arange(2 * 4 * 4).reshape(2, 4, 4)
    >>> RandomCrop(4, padding=1, seed=0)(x).shape
    (2, 4, 4)
    """

    def __init__(self, size, padding: int = 0, fill: float = 0, seed=None):
        name = type(self).__name__
        self.size = _pair(name, size)
        if not _is_int(padding) or padding < 0:
            raise ValueError(f"{name}: padding must be an int >= 0, got {padding!r}")
        self.padding = int(padding)
        self.fill = fill
        self.rng = np.random.default_rng(seed)

    def __call__(self, x) -> np.ndarray:
        x = _as_batch(type(self).__name__, x)
        _check_fill(type(self).__name__, self.fill, x.dtype)
        h, w = self.size
        p = self.padding
        N, HP, WP = x.shape[0], x.shape[-2] + 2 * p, x.shape[-1] + 2 * p
        if h > HP or w > WP:
            raise ValueError(
                f"{type(self).__name__}: crop size {(h, w)} is larger than the padded image "
                f"{(HP, WP)} (input {x.shape[-2:]}, padding {p}); use a size of at most "
                f"{(HP, WP)} or more padding"
            )
        pad = [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)]
        padded = np.pad(x, pad, mode="constant", constant_values=self.fill)  # (N, [C,] HP, WP)
        oy = self.rng.integers(0, HP - h + 1, size=N)  # (N,) top row of each window
        ox = self.rng.integers(0, WP - w + 1, size=N)  # (N,) left column of each window
        rows = oy[:, None] + np.arange(h)  # (N, h)
        cols = ox[:, None] + np.arange(w)  # (N, w)
        batch = np.arange(N)[:, None, None]
        if x.ndim == 3:
            return padded[batch, rows[:, :, None], cols[:, None, :]]  # (N, h, w)
        # (N, C, HP, WP) -> (N, HP, WP, C) so the fancy index picks whole channel vectors
        gathered = padded.transpose(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
        return np.ascontiguousarray(gathered.transpose(0, 3, 1, 2))  # (N, C, h, w)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class RandomShift(RandomCrop):
    """Translate each image by a random integer shift in ``[-max_shift, max_shift]`` pixels
    along each axis, filling the uncovered border with ``fill``. Same size out as in.

    This is ``RandomCrop`` of the input's own size after padding by ``max_shift``.
    """

    def __init__(self, max_shift: int = 2, fill: float = 0, seed=None):
        if not _is_int(max_shift) or max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be an int >= 0, got {max_shift!r}")
        super().__init__(size=1, padding=max_shift, fill=fill, seed=seed)
        self.max_shift = int(max_shift)

    def __call__(self, x) -> np.ndarray:
        x = _as_batch("RandomShift", x)
        self.size = (x.shape[-2], x.shape[-1])
        return super().__call__(x)

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift})"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p`` (``x[n, ..., ::-1]``).

    >>> x = np.arange(6).reshape(1, 2, 3)
    >>> RandomHorizontalFlip(p=1.0)(x)[0].tolist()
    [[2, 1, 0], [5, 4, 3]]
    """

    def __init__(self, p: float = 0.5, seed=None):
        if not _is_real(p) or not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be a probability in [0, 1], got {p}")
        self.p = p
        self.rng = np.random.default_rng(seed)

    def __call__(self, x) -> np.ndarray:
        x = _as_batch("RandomHorizontalFlip", x)
        flip = self.rng.random(x.shape[0]) < self.p  # (N,) which images to mirror
        out = x.copy()
        out[flip] = x[flip][..., ::-1]
        return out

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomRotation:
    """Rotate each image about its center by a random angle, with bilinear interpolation.

    ``degrees`` is a number d (angles uniform in [-d, d]) or a pair (lo, hi). Positive angles
    turn the picture counter-clockwise as displayed (row 0 at the top), as in torchvision.
    Pixels that come from outside the image are ``fill``.

    The sampler is written out: for every output pixel (i, j), rotate its offset from the center
    ``(cy, cx) = ((H-1)/2, (W-1)/2)`` backwards by the angle to find where it comes from,

        src_y = cy + (i - cy) cos(a) + (j - cx) sin(a)
        src_x = cx - (i - cy) sin(a) + (j - cx) cos(a)

    and blend the four neighbours of (src_y, src_x) with weights (1-fy)(1-fx), (1-fy)fx,
    fy(1-fx), fy fx, where fy, fx are the fractional parts. Integer inputs are rounded back to
    their dtype; float64 inputs are computed in float64, others in float32.

    torchvision's ``RandomRotation`` uses nearest-neighbour sampling unless given
    ``interpolation=BILINEAR``; with bilinear and ``fill=0`` its output is this one.
    """

    def __init__(self, degrees, fill: float = 0, seed=None):
        if _is_real(degrees):
            if not degrees >= 0:  # also refuses NaN
                raise ValueError(f"RandomRotation: degrees must be >= 0, got {degrees}")
            degrees = (-float(degrees), float(degrees))
        elif not (
            isinstance(degrees, Sequence)
            and len(degrees) == 2
            and all(_is_real(d) for d in degrees)
        ):
            raise ValueError(f"RandomRotation: degrees must be a number or a pair, got {degrees}")
        lo, hi = float(degrees[0]), float(degrees[1])
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"RandomRotation: degrees must be finite, got {degrees}")
        if lo > hi:
            raise ValueError(
                f"RandomRotation: degrees (lo, hi) needs lo <= hi, got {degrees}; did you mean "
                f"({hi:g}, {lo:g})?"
            )
        self.degrees = (lo, hi)
        self.fill = fill
        self.rng = np.random.default_rng(seed)

    def __call__(self, x) -> np.ndarray:
        x = _as_batch("RandomRotation", x)
        _check_fill("RandomRotation", self.fill, x.dtype)
        N, H, W = x.shape[0], x.shape[-2], x.shape[-1]
        C = x.shape[1] if x.ndim == 4 else 1  # explicit: -1 cannot be inferred when N == 0
        angles = np.deg2rad(self.rng.uniform(self.degrees[0], self.degrees[1], size=N))
        work = np.float64 if x.dtype == np.float64 else np.float32
        images = x.reshape(N, C, H, W).astype(work)  # (N, C, H, W)
        cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
        i = np.arange(H, dtype=np.float64)[None, :, None] - cy  # (1, H, 1)
        j = np.arange(W, dtype=np.float64)[None, None, :] - cx  # (1, 1, W)
        cos = np.cos(angles)[:, None, None]  # (N, 1, 1)
        sin = np.sin(angles)[:, None, None]
        src_y = cy + i * cos + j * sin  # (N, H, W)
        src_x = cx - i * sin + j * cos  # (N, H, W)
        out = _bilinear_sample(images, src_y, src_x, self.fill)  # (N, C, H, W)
        out = out.reshape(x.shape)
        if x.dtype.kind in "iub":
            info = np.iinfo(x.dtype) if x.dtype.kind != "b" else None
            if info is not None:
                out = np.clip(np.rint(out), info.min, info.max)
            return out.astype(x.dtype)
        return out.astype(x.dtype, copy=False)

    def __repr__(self) -> str:
        return f"RandomRotation(degrees={self.degrees})"


def _bilinear_sample(images: np.ndarray, ys: np.ndarray, xs: np.ndarray, fill) -> np.ndarray:
    """Sample ``images`` (N, C, H, W) at real coordinates ``ys, xs`` (N, OH, OW).

    Neighbours outside the image count as ``fill``. Returns (N, C, OH, OW) in the float dtype
    of ``images``.
    """
    N, C, H, W = images.shape
    dtype = images.dtype
    OH, OW = ys.shape[1:]
    y0 = np.floor(ys).astype(np.int64)  # (N, OH, OW) top neighbour row
    x0 = np.floor(xs).astype(np.int64)  # (N, OH, OW) left neighbour column
    fy = (ys - y0).astype(dtype)[:, None]  # (N, 1, OH, OW)
    fx = (xs - x0).astype(dtype)[:, None]
    flat = images.reshape(N, C, H * W)  # (N, C, H*W)
    out = np.zeros((N, C, OH, OW), dtype=dtype)
    corners = (
        (0, 0, (1 - fy) * (1 - fx)),
        (0, 1, (1 - fy) * fx),
        (1, 0, fy * (1 - fx)),
        (1, 1, fy * fx),
    )
    for dy, dx, weight in corners:
        yy = y0 + dy
        xx = x0 + dx
        inside = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)  # (N, OH, OW)
        index = np.where(inside, yy * W + xx, 0).reshape(N, 1, OH * OW)  # (N, 1, OH*OW)
        values = np.take_along_axis(flat, index, axis=2).reshape(out.shape)  # (N, C, OH, OW)
        values = np.where(inside[:, None], values, dtype.type(fill))
        out += weight * values
    return out
