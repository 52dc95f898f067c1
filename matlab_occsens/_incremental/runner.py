"""Running a plan: each chunk on a mini-batch of crops, the suffix on patched activations.

The unoccluded image goes through the whole chain once; every cut's activation is kept. For a
mini-batch of masks, chunk by chunk: each mask's crop is cut from the kept activation of the
chunk's input, the mask's *patch* (its recomputed changed region, or the fill for the image
itself) is pasted in, the batch of crops is one ONNX Runtime call, and the changed region of the
result becomes the mask's next patch. The last patches are pasted into copies of the kept
activation where the suffix starts, and the suffix runs on those as on ordinary images.

Images, volumes and signals alike: a crop is one interval per spatial axis, a mask's position in
the grid one index per axis. The runner gives each occluded input's whole selected output (the
suffix's output, or the kept activation patched with the recomputed region when the chain ends
at the selected output), never a difference from the reference, so whatever score is read off
it afterwards (the channel's total, or a user's reduction of its activations) is the ordinary
path's score up to float rounding.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from .._backends.engine import Engine
from .._core.grid import MaskGrid
from .._stream.job import REFERENCE, OcclusionJob, image_of_mask
from .plan import AxisCrops, Plan

__all__ = ["IncrementalForward"]


def _slices(starts: np.ndarray, stops: np.ndarray) -> list[slice]:
    return [slice(start, max(start, stop)) for start, stop in zip(starts.tolist(), stops.tolist())]


def _box(spatial: Iterable[slice], *batch: int) -> tuple[int | slice, ...]:
    """The index of a box (one slice per spatial axis) in every channel of a (C, *spatial)
    tensor, or of the batch item ``batch`` of an (N, C, *spatial) one."""
    return (*batch, slice(None), *spatial)


class _AxisSlices:
    """Per grid position along one axis: the crop, where the patch goes in it and which part of
    the patch goes there, and which part of the result is the next patch."""

    def __init__(self, axis: AxisCrops) -> None:
        starts, stops = axis.changed_in
        first = np.maximum(starts, axis.starts)  # the patch may reach beyond the crop
        stop = np.maximum(np.minimum(stops, axis.starts + axis.length), first)
        self.crop = _slices(axis.starts, axis.starts + axis.length)
        self.paste = _slices(first - axis.starts, stop - axis.starts)
        self.patch = _slices(first - starts, stop - starts)
        kept_starts, kept_stops = axis.changed_out
        empty = kept_starts >= kept_stops
        kept_starts, kept_stops = kept_starts - axis.out_starts, kept_stops - axis.out_starts
        self.keep = _slices(np.where(empty, 0, kept_starts), np.where(empty, 0, kept_stops))
        self.length, self.out_length = axis.length, axis.out_length


Position = tuple[int, ...]
"""A mask's index along each axis of the grid."""


class _ChunkRun:
    """One chunk of the plan with its engine and its per-position slices, precomputed."""

    def __init__(self, axes: tuple[AxisCrops, ...], engine: Engine) -> None:
        self.engine = engine
        self.axes = tuple(_AxisSlices(axis) for axis in axes)

    def run(self, source: np.ndarray, patches: list[np.ndarray], positions: list[Position]) -> list[np.ndarray]:
        """The next patches of the masks at the given grid positions, given their current ones."""
        axes = self.axes
        crops = np.empty((len(positions), source.shape[1], *(axis.length for axis in axes)), dtype=np.float32)
        for slot, position in enumerate(positions):
            at = list(zip(axes, position))
            crops[slot] = source[_box((axis.crop[index] for axis, index in at), 0)]
            crops[_box((axis.paste[index] for axis, index in at), slot)] = patches[slot][
                _box(axis.patch[index] for axis, index in at)
            ]
        result = self.engine.run(crops)[0]
        planned = tuple(axis.out_length for axis in axes)
        if result.shape[2:] != planned:
            raise RuntimeError(
                f"incremental inference: a chunk gave crops of {result.shape[2:]}, not the "
                f"{planned} planned; please report this and "
                'use Incremental="off".'
            )
        return [
            result[_box((axis.keep[index] for axis, index in zip(axes, position)), slot)]
            for slot, position in enumerate(positions)
        ]


class IncrementalForward:
    """Forward passes of occluded images computed from the unoccluded one, chunk by chunk.

    Parameters
    ----------
    plan : Plan
        The chain of chunks for the grid.
    engines : list of Engine
        One engine per chunk of the plan, each taking a batch of crops of the chunk's input.
    suffix : Engine or None
        The rest of the graph after the chain; None when the chain ends at the selected output.
    batch_size : int
        Masks per call of each engine.
    workers : int
        Batches computed at the same time, each by its own thread (the engines must allow
        concurrent calls, as ONNX Runtime sessions do).
    front_perm : tuple of int, optional
        Axes that take the network's input layout to the chain's channels-first one (the graph's
        own front transpose of a channels-last input, done here once per map); None when the
        input is channels first.
    """

    def __init__(
        self,
        plan: Plan,
        engines: list[Engine],
        suffix: Engine | None,
        batch_size: int,
        workers: int = 1,
        front_perm: tuple[int, ...] | None = None,
    ) -> None:
        self.plan = plan
        self.front_perm = front_perm
        self.batch_size = batch_size
        self.workers = workers
        self._chunks = [_ChunkRun(chunk.axes, engine) for chunk, engine in zip(plan.chunks, engines)]
        self._suffix = suffix
        self._into = [_slices(*changed) for changed in plan.changed]
        self._kept: list[np.ndarray] = []

    def _finish(self, activation: np.ndarray) -> np.ndarray:
        return activation if self._suffix is None else self._suffix.run(activation)[0]

    def reference(self, base: np.ndarray) -> np.ndarray:
        """The selected output for the unoccluded (native-layout, normalised) image; keeps the
        activation of every cut of the chain for :meth:`outputs`."""
        self._kept = [self._channels_first(base)]
        for chunk in self._chunks:
            self._kept.append(chunk.engine.run(self._kept[-1])[0])
        return self._finish(self._kept[-1])

    def _channels_first(self, image: np.ndarray) -> np.ndarray:
        return image if self.front_perm is None else np.ascontiguousarray(image.transpose(self.front_perm))

    def _batch(self, fill: np.ndarray, grid: MaskGrid, masks: range) -> np.ndarray:
        """The selected output for the masks ``masks`` (indices in grid order)."""
        positions: list[Position] = list(zip(*(index.tolist() for index in np.unravel_index(masks, grid.shape))))
        patches = [
            fill[_box((slice(*ranges[index]) for ranges, index in zip(grid.axes, position)), 0)]
            for position in positions
        ]
        for chunk, source in zip(self._chunks, self._kept):
            patches = chunk.run(source, patches, positions)
        activation = np.repeat(self._kept[-1], len(masks), axis=0)
        for slot, (position, patch) in enumerate(zip(positions, patches)):
            activation[_box((into[index] for into, index in zip(self._into, position)), slot)] = patch
        return self._finish(activation)

    def images(self, job: OcclusionJob) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first image index, selected output)`` for all of ``job``'s images, numbered
        as the stream numbers them (:mod:`matlab_occsens._stream.job`): the reference, then the
        masks' batches."""
        yield REFERENCE, self.reference(job.base)
        for first, output in self.outputs(job.fill, job.grid):
            yield image_of_mask(first), output

    def outputs(
        self, fill: np.ndarray, grid: MaskGrid, first: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first mask index, selected output)`` per batch of masks, in grid order, for
        the masks ``first`` to ``stop`` (default: all), in batches that start on multiples of
        the batch size. ``fill`` is the fill image in the network's native layout. All work is
        done when the iteration ends."""
        if not self._kept:
            raise RuntimeError("IncrementalForward.reference must run first")
        stop = len(grid) if stop is None else stop
        if first >= stop:
            return
        fill = self._channels_first(fill)
        size = self.batch_size  # batches on the grid's multiples of it: the shapes a whole map runs
        edges = [first, *range((first // size + 1) * size, stop, size), stop]
        batches = [range(start, end) for start, end in itertools.pairwise(edges)]
        if self.workers == 1:
            for masks in batches:
                yield masks.start, self._batch(fill, grid, masks)
            return
        with ThreadPoolExecutor(self.workers) as pool:
            pending: deque[tuple[int, Future[np.ndarray]]] = deque()
            for masks in batches:
                pending.append((masks.start, pool.submit(self._batch, fill, grid, masks)))
                if len(pending) > 2 * self.workers:  # a few batches ahead, not the whole grid
                    start, result = pending.popleft()
                    yield start, result.result()
            while pending:
                start, result = pending.popleft()
                yield start, result.result()
