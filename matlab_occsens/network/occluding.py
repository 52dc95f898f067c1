"""The occluded copies of one image that a map needs, and how the host builds them in batches.

Every engine receives the same :class:`OcclusionJob`: the normalised image, the normalised fill
image and the mask grid. Occluding the normalised image is the same as normalising the occluded
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
    """One map's forward passes: every mask of ``grid`` applied to ``base``, at most
    ``batch_size`` per call.

    ``base`` and ``fill`` are single normalised images in the backend's layout, batch axis first;
    a masked pixel takes ``fill``'s value in every channel.
    """

    base: np.ndarray
    fill: np.ndarray
    grid: MaskGrid
    input_format: str
    batch_size: int

    def spans(self) -> Iterator[tuple[int, int]]:
        """``(first, stop)`` mask indices of each batch, in grid order."""
        total = len(self.grid)
        for first in range(0, total, self.batch_size):
            yield first, min(first + self.batch_size, total)


def occluded_batches(
    job: OcclusionJob, next_size: Callable[[int], int] | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first mask index, batch)`` of occluded copies of ``job.base`` in grid order.

    ``next_size(remaining)`` gives each batch's size (default: ``job.batch_size``). All batches
    share one buffer, as large as the largest batch (memory does not grow with the number of
    masks); each slot is repaired by restoring only the window its previous mask covered, so
    building a batch costs the masks' area, not whole images. A batch is valid until the next
    one is requested.
    """
    base, fill = job.base[0], job.fill[0]
    buffer = job.base[:0].copy()
    covered: list[tuple[slice, ...] | None] = []
    first, total = 0, len(job.grid)
    while first < total:
        size = next_size(total - first) if next_size is not None else min(job.batch_size, total - first)
        if size > len(buffer):  # new slots start as clean copies of the image
            grown = np.empty((size, *buffer.shape[1:]), buffer.dtype)
            grown[: len(buffer)] = buffer
            grown[len(buffer) :] = job.base
            buffer = grown
            covered += [None] * (size - len(covered))
        stop = first + size
        for slot, (rows, cols) in enumerate(job.grid.windows(first, stop)):
            previous = covered[slot]
            if previous is not None:
                buffer[slot][previous] = base[previous]
            window = window_index(job.input_format, rows, cols)
            buffer[slot][window] = fill[window]
            covered[slot] = window
        yield first, buffer[:size]
        first = stop
