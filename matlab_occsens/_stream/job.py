"""The one rule of the stream: what image ``i`` of a map is, and which pixels its mask covers.

A map's forward passes are an :class:`OcclusionJob`: image 0 is the unoccluded image, whose
output is the map's reference, and image ``i >= 1`` is the image with mask ``i - 1`` of the
grid applied (row-major). Putting the reference first lets it ride in the first batch instead of
costing a call of its own (on a GPU a one-image call costs almost as much as a full batch).

A mask covers one half-open range per spatial axis (rows × columns of an image, the three axes
of a volume, the time axis of a signal) in every channel, and a covered pixel takes the fill
image's value there. The reference covers the empty range ``[0, 0)`` on every axis. Every
builder of occluded images (the host's :class:`HostBuilder`, torch's and the ONNX prefix's on
the device, the incremental runner) reads the covered ranges from :meth:`OcclusionJob.covered`
and numbers its outputs with these image indices, so nothing renumbers them.

Occluding the normalised image is the same as normalising the occluded one, because the input
layer's normalisation acts on each pixel and channel on its own: jobs hold normalised images in
the backend's layout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .._core.formats import channels_first
from .._core.grid import MaskGrid

__all__ = ["REFERENCE", "HostBuilder", "OcclusionJob", "image_of_mask", "occluded_batches", "window_index"]

#: The image index of the unoccluded image in every job.
REFERENCE = 0


def image_of_mask(mask: int) -> int:
    """The image index, in its job, of the image occluded by mask ``mask`` (grid order)."""
    return mask + 1


def window_index(input_format: str, ranges: list[list[int]]) -> tuple[slice, ...]:
    """Index of the pixels covered by ``ranges`` (one ``[start, stop)`` per spatial axis), in all
    channels, in one image of the backend's layout ``input_format``."""
    window = tuple(slice(start, stop) for start, stop in ranges)
    return (slice(None), *window) if channels_first(input_format) else window


@dataclass(frozen=True, eq=False)
class OcclusionJob:
    """One map's forward passes: ``base`` itself, then every mask of ``grid`` applied to it.

    ``base`` and ``fill`` are single normalised images in the backend's layout
    (``input_format``, batch axis first); a masked pixel takes ``fill``'s value in every channel.
    ``batch_size`` is the most images per call when the job streams on its own
    (:func:`occluded_batches`); in a stream of several jobs the stream's limit applies.
    """

    base: np.ndarray
    fill: np.ndarray
    grid: MaskGrid
    input_format: str
    batch_size: int

    def __len__(self) -> int:
        return len(self.grid) + 1

    def covered(self, first: int, stop: int) -> np.ndarray:
        """Covered ranges of images ``first..stop-1``, ``(n, rank, 2)``: ``[0, 0)`` on every
        axis for the reference, mask ``i - 1``'s ranges for image ``i``."""
        ranges = self.grid.ranges(max(first, 1) - 1, stop - 1)
        if first == REFERENCE and stop > first:
            ranges = np.concatenate([np.zeros((1, *ranges.shape[1:]), dtype=ranges.dtype), ranges])
        return ranges


@dataclass(frozen=True, eq=False)
class Part:
    """The images ``first..stop-1`` of job number ``serial`` of a stream, in slots
    ``slot..slot + stop - first - 1`` of a batch."""

    serial: int
    job: OcclusionJob
    first: int
    stop: int
    slot: int

    def __len__(self) -> int:
        return self.stop - self.first


@dataclass(frozen=True, eq=False)
class Batch:
    """The images of one forward call, possibly from several jobs, in stream order.

    Slot ``s`` holds an image of ``jobs[owners[s]]`` with ``ranges[s]`` covered (one
    ``[start, stop)`` per spatial axis, ``(n, rank, 2)`` int64 in all); ``parts`` says which
    images of which jobs.
    """

    parts: tuple[Part, ...]
    ranges: np.ndarray

    @property
    def jobs(self) -> tuple[OcclusionJob, ...]:
        return tuple(part.job for part in self.parts)

    @property
    def owners(self) -> np.ndarray:
        """Index into :attr:`jobs` of each slot's job, ``(n,)`` int64."""
        return np.repeat(np.arange(len(self.parts), dtype=np.int64), [len(part) for part in self.parts])

    def __len__(self) -> int:
        return len(self.ranges)

    @classmethod
    def of(cls, parts: tuple[Part, ...]) -> Batch:
        covered = [part.job.covered(part.first, part.stop) for part in parts]
        return cls(parts, covered[0] if len(covered) == 1 else np.concatenate(covered))


class HostBuilder:
    """Builds batches in host memory, all in one buffer as large as the largest batch (memory
    does not grow with the number of masks or jobs).

    Each slot is repaired by restoring only the window its previous mask covered when it held
    the same job's image, so building a batch costs the masks' area, not whole images; a slot
    whose job changes gets the new job's image whole. A batch is valid until the next one is built.
    """

    def __init__(self) -> None:
        self._buffer: np.ndarray | None = None
        self._held: list[tuple[int, tuple[slice, ...]] | None] = []  # per slot: job serial, covered window

    def build(self, batch: Batch) -> np.ndarray:
        size = len(batch)
        first_base = batch.parts[0].job.base
        if self._buffer is None or self._buffer.shape[1:] != first_base.shape[1:]:
            self._buffer, self._held = first_base[:0].copy(), []
        if size > len(self._buffer):  # new slots are filled whole below
            grown = np.empty((size, *self._buffer.shape[1:]), self._buffer.dtype)
            grown[: len(self._buffer)] = self._buffer
            self._buffer = grown
            self._held += [None] * (size - len(self._held))
        buffer, held = self._buffer, self._held
        for part in batch.parts:
            job = part.job
            base, fill, layout = job.base[0], job.fill[0], job.input_format
            stop = part.slot + len(part)
            for slot, ranges in zip(range(part.slot, stop), batch.ranges[part.slot : stop].tolist()):
                previous = held[slot]
                if previous is None or previous[0] != part.serial:
                    buffer[slot] = base
                else:
                    buffer[slot][previous[1]] = base[previous[1]]
                window = window_index(layout, ranges)
                buffer[slot][window] = fill[window]
                held[slot] = (part.serial, window)
        return buffer[:size]


def occluded_batches(
    job: OcclusionJob, next_size: Callable[[int], int] | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first image index, batch)`` of ``job``'s images built on the host, in stream order.

    ``next_size(remaining)`` gives each batch's size (default: ``job.batch_size``). A batch is
    valid until the next one is requested.
    """
    builder = HostBuilder()
    first, total = 0, len(job)
    while first < total:
        size = next_size(total - first) if next_size is not None else min(job.batch_size, total - first)
        batch = Batch.of((Part(0, job, first, first + size, 0),))
        yield first, builder.build(batch)
        first += size
