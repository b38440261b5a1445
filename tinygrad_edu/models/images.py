"""Save a batch of images as one PNG grid (matplotlib, Agg backend: no display needed). Used by
the generative models (GAN, VAE) and style transfer."""

from __future__ import annotations

import os

import numpy as np

from ..backend import to_numpy
from ..tensor import Tensor


def image_grid(images, nrow: int = 8, padding: int = 1) -> np.ndarray:
    """(N, C, H, W), (N, H, W) or (N, H*W) square images -> one (rows, cols[, C]) array laid
    out ``nrow`` images per row, values clipped to [0, 1], with ``padding`` pixels of 1 between.

    >>> image_grid(np.zeros((5, 1, 4, 4)), nrow=3).shape       # 2 rows x 3 columns of 4x4
    (9, 14)
    """
    x = to_numpy(images.data) if isinstance(images, Tensor) else np.asarray(images)
    x = x.astype(np.float32)
    if x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise ValueError(f"image_grid: flat images of {x.shape[1]} pixels are not square; "
                             "pass (N, C, H, W)")
        x = x.reshape(-1, 1, side, side)  # (N, H*W) -> (N, 1, H, W)
    elif x.ndim == 3:
        x = x[:, None]  # (N, H, W) -> (N, 1, H, W)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"image_grid: expected (N, 1 or 3, H, W) images, got shape {x.shape}")
    N, C, H, W = x.shape
    ncol = min(nrow, N)
    nrows = (N + ncol - 1) // ncol
    grid = np.ones((C, nrows * (H + padding) - padding, ncol * (W + padding) - padding),
                   dtype=np.float32)
    for k in range(N):
        r, c = divmod(k, ncol)
        top, left = r * (H + padding), c * (W + padding)
        grid[:, top:top + H, left:left + W] = x[k]
    grid = np.clip(grid, 0.0, 1.0)
    return grid[0] if C == 1 else grid.transpose(1, 2, 0)  # (rows, cols) or (rows, cols, 3)


def save_image_grid(images, path: str, nrow: int = 8, title: str | None = None) -> str:
    """Write ``image_grid(images, nrow)`` to ``path`` as a PNG (gray colormap for 1 channel);
    returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = image_grid(images, nrow)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig, ax = plt.subplots(figsize=(max(2.0, grid.shape[1] / 20), max(2.0, grid.shape[0] / 20)))
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0.0, vmax=1.0,
              interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
