"""Where the occluding masks go (docs/specification.md §4, §9.3): pure geometry, no network.

Each spatial axis (rows and columns of an image; the three axes of a volume; the time axis of a
signal) is laid out on its own and the grid is their Cartesian product, so the grid is stored as
one short list of covered ranges per axis rather than one box per mask; a stride-1 grid on a
224 × 224 image is then 2 × 224 ranges, not 50,176 boxes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["MaskGrid", "axis_ranges", "mask_grid"]

_WINDOWS_AT_ONCE = 4096


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


@dataclass(frozen=True, eq=False)
class MaskGrid:
    """The K_1 × ... × K_k mask positions: one ``(K_a, 2)`` array of 0-based half-open covered
    ranges per spatial axis (rows then columns for an image), masks numbered row-major."""

    axes: tuple[np.ndarray, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(ranges) for ranges in self.axes)

    @property
    def rank(self) -> int:
        """The number of spatial axes: 1, 2 or 3."""
        return len(self.axes)

    def __len__(self) -> int:
        return math.prod(self.shape)

    def ranges(self, first: int, stop: int) -> np.ndarray:
        """Covered ranges of masks ``first..stop-1`` (row-major), ``(n, rank, 2)`` int64:
        ``ranges[i, a]`` is mask ``first + i``'s ``[start, stop)`` along axis ``a``."""
        positions = np.unravel_index(np.arange(first, stop), self.shape)
        return np.stack([axis[position] for axis, position in zip(self.axes, positions)], axis=1)

    def windows(self, first: int = 0, stop: int | None = None) -> Iterator[tuple[tuple[int, int], ...]]:
        """Yield each mask's ``((start, stop), ...)``, one pair per axis, for masks
        ``first..stop-1``, row-major."""
        stop = len(self) if stop is None else stop
        for start in range(first, stop, _WINDOWS_AT_ONCE):  # lazily, a few thousand at a time
            for ranges in self.ranges(start, min(start + _WINDOWS_AT_ONCE, stop)).tolist():
                yield tuple((begin, end) for begin, end in ranges)


def mask_grid(size: tuple[int, ...], mask: tuple[int, ...], stride: tuple[int, ...], clipping: bool) -> MaskGrid:
    """The grid for an input of spatial ``size`` (H, W; S1, S2, S3; or T) with the given mask
    size and stride per axis, each axis laid out by :func:`axis_ranges`."""
    if not len(size) == len(mask) == len(stride):
        raise ValueError(f"a grid needs one mask size and stride per axis; got {size}, {mask}, {stride}")
    return MaskGrid(tuple(axis_ranges(*axis, clipping) for axis in zip(size, mask, stride)))
