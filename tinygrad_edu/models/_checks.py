"""Input checks shared by the seed models: errors that name the model, what it expected and
what arrived (a layer deep inside would only name itself: "Linear(400, 120): input has 576
features" does not say that the image was 32x32 instead of 28x28)."""

from __future__ import annotations

from ..backend import to_numpy


def check_images(owner: str, x, channels: int, size: int | None = None) -> None:
    """x must be images (N, channels, H, W); with ``size``, H = W = size."""
    ok = x.ndim == 4 and x.shape[1] == channels
    if size is not None:
        ok = ok and x.shape[2] == x.shape[3] == size
    if not ok:
        side = "H, W" if size is None else f"{size}, {size}"
        raise ValueError(f"{owner}: expected images (N, {channels}, {side}), got shape "
                         f"{tuple(x.shape)}")


def check_token_ids(owner: str, ids, count: int, what: str = "token ids") -> None:
    """ids must be integers (else ValueError) in [0, count) (else IndexError, like torch)."""
    if ids.dtype.kind not in "iu":
        raise ValueError(f"{owner}: expected integer {what}, got dtype {ids.dtype}")
    values = to_numpy(ids.data)
    bad = (values < 0) | (values >= count)
    if bad.any():
        raise IndexError(f"{owner}: {what} must be in [0, {count}), got {int(values[bad][0])} "
                         f"({int(bad.sum())} of {values.size} out of range, ids shape "
                         f"{tuple(ids.shape)})")
