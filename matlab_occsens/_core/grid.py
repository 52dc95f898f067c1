"""Where the occluding masks go (docs/specification.md §4): pure geometry, no network.

Each image dimension is laid out on its own and the grid is their Cartesian product, so the
grid is stored as two short lists of covered ranges rather than K_h × K_w rectangles; a stride-1
grid on a 224 × 224 image is then 2 × 224 ranges, not 50,176 boxes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["MaskGrid", "axis_ranges", "mask_grid"]


def axis_ranges(size: int, mask: int, stride: int, clipping: bool) -> np.ndarray:
    """Covered ranges along one dimension, as a ``(K, 2)`` array of 0-based ``[start, stop)``.

    With clipping, mask centres sit on ``0, stride, 2*stride, ... <= size-1`` and each mask spans
    ``centre - mask//2`` for ``mask`` pixels (an even mask puts its extra pixel before the
    centre), cut to the image. Without clipping, masks start at ``0, stride, ...`` and only those
    that fit entirely are kept; an empty result is left to the caller to report.

    Any mask or stride is allowed, however large: a stride beyond the image gives the same single
    position as a stride equal to it, and a mask of twice the image or more covers the whole image
    from every centre with clipping and fits nowhere without, so both are capped there before any
    64-bit arithmetic.
    """
    stride, mask = min(stride, size), min(mask, 2 * size)
    if clipping:
        count = (size - 1) // stride + 1
        starts = np.arange(count, dtype=np.int64) * stride - mask // 2
        return np.stack([np.maximum(starts, 0), np.minimum(starts + mask, size)], axis=1)
    count = max((size - mask) // stride + 1, 0)
    starts = np.arange(count, dtype=np.int64) * stride
    return np.stack([starts, starts + mask], axis=1)


@dataclass(frozen=True)
class MaskGrid:
    """The K_h × K_w mask positions: row ranges × column ranges, 0-based half-open."""

    rows: np.ndarray
    cols: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.cols)

    def __len__(self) -> int:
        return len(self.rows) * len(self.cols)

    def ranges(self, first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Covered ``(n, 2)`` row and column ranges of masks ``first..stop-1``, row-major."""
        index = np.arange(first, stop)
        width = len(self.cols)
        return self.rows[index // width], self.cols[index % width]

    def windows(self, first: int = 0, stop: int | None = None) -> Iterator[tuple[tuple[int, int], tuple[int, int]]]:
        """Yield ``((row0, row1), (col0, col1))`` for masks ``first..stop-1``, row-major."""
        width = len(self.cols)
        for index in range(first, len(self) if stop is None else stop):
            row0, row1 = self.rows[index // width]
            col0, col1 = self.cols[index % width]
            yield (int(row0), int(row1)), (int(col0), int(col1))


def mask_grid(size: tuple[int, int], mask: tuple[int, int], stride: tuple[int, int], clipping: bool) -> MaskGrid:
    """The grid for an image of ``size`` (H, W) with the given mask size and stride per dimension."""
    return MaskGrid(
        rows=axis_ranges(size[0], mask[0], stride[0], clipping),
        cols=axis_ranges(size[1], mask[1], stride[1], clipping),
    )
