"""The occluded copies of one image that a map needs, and how the host builds them in batches.

Every engine receives the same :class:`OcclusionJob`: the normalised image, the normalised fill
image and the mask grid. The stream starts with the unoccluded image, whose output is the map's
reference, so that it rides in the first batch instead of costing a call of its own (on a GPU a
one-image call costs almost as much as a full batch). Occluding the normalised image is the same as normalising the occluded
one, because the input layer's normalisation acts on each pixel and channel on its own. CPU
engines build the batches here, in host memory; GPU engines build them on the device from the
same job, so that no image crosses the bus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..grid import MaskGrid

__all__ = ["OcclusionJob", "occluded_batches", "window_index"]


def window_index(input_format: str, rows: tuple[int, int], cols: tuple[int, int]) -> tuple[slice, ...]:
    """Index of the pixels ``rows`` × ``cols`` (all channels) in one image of layout "BCSS" or "BSSC"."""
    window = (slice(*rows), slice(*cols))
    return (slice(None), *window) if input_format == "BCSS" else window


@dataclass(frozen=True)
class OcclusionJob:
    """One map's forward passes: ``base`` itself, then every mask of ``grid`` applied to it, at
    most ``batch_size`` images per call.

    ``base`` and ``fill`` are single normalised images in the backend's layout, batch axis first;
    a masked pixel takes ``fill``'s value in every channel. Image 0 of the stream is ``base``
    (covered ranges empty), image ``i`` is mask ``i - 1`` of the grid.
    """

    base: np.ndarray
    fill: np.ndarray
    grid: MaskGrid
    input_format: str
    batch_size: int

    def __len__(self) -> int:
        return len(self.grid) + 1

    def spans(self) -> Iterator[tuple[int, int]]:
        """``(first, stop)`` image indices of each batch, in stream order."""
        total = len(self)
        for first in range(0, total, self.batch_size):
            yield first, min(first + self.batch_size, total)

    def ranges(self, first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Covered ``(n, 2)`` row and column ranges of images ``first..stop-1``; empty for image 0."""
        rows, cols = self.grid.ranges(max(first - 1, 0), stop - 1)
        if first == 0:
            nothing = np.zeros((1, 2), dtype=rows.dtype)
            rows, cols = np.concatenate([nothing, rows]), np.concatenate([nothing, cols])
        return rows, cols


def occluded_batches(
    job: OcclusionJob, next_size: Callable[[int], int] | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first image index, batch)`` of ``job``'s images: ``job.base``, then its occluded
    copies in grid order.

    ``next_size(remaining)`` gives each batch's size (default: ``job.batch_size``). All batches
    share one buffer, as large as the largest batch (memory does not grow with the number of
    masks); each slot is repaired by restoring only the window its previous mask covered, so
    building a batch costs the masks' area, not whole images. A batch is valid until the next
    one is requested.
    """
    base, fill = job.base[0], job.fill[0]
    buffer = job.base[:0].copy()
    covered: list[tuple[slice, ...] | None] = []
    first, total = 0, len(job)
    while first < total:
        size = next_size(total - first) if next_size is not None else min(job.batch_size, total - first)
        if size > len(buffer):  # new slots start as clean copies of the image
            grown = np.empty((size, *buffer.shape[1:]), buffer.dtype)
            grown[: len(buffer)] = buffer
            grown[len(buffer) :] = job.base
            buffer = grown
            covered += [None] * (size - len(covered))
        stop = first + size
        rows_of, cols_of = job.ranges(first, stop)
        for slot, (rows, cols) in enumerate(zip(rows_of.tolist(), cols_of.tolist())):
            previous = covered[slot]
            if previous is not None:
                buffer[slot][previous] = base[previous]
            window = window_index(job.input_format, rows, cols)
            buffer[slot][window] = fill[window]
            covered[slot] = window
        yield first, buffer[:size]
        first = stop
