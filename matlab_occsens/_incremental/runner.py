"""Running a plan: each chunk on a mini-batch of crops, the suffix on patched activations.

The unoccluded image goes through the whole chain once; every cut's activation is kept. For a
mini-batch of masks, chunk by chunk: each mask's crop is cut from the kept activation of the
chunk's input, the mask's *patch* (its recomputed changed region, or the fill for the image
itself) is pasted in, the batch of crops is one ONNX Runtime call, and the changed region of the
result becomes the mask's next patch. The last patches are pasted into copies of the kept
activation where the suffix starts, and the suffix runs on those as on ordinary images.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from .._backends.engine import Engine
from .._core.grid import MaskGrid
from .._stream.job import REFERENCE, OcclusionJob, image_of_mask
from .plan import AxisCrops, Plan

__all__ = ["IncrementalForward"]


def _slices(starts: np.ndarray, stops: np.ndarray) -> list[slice]:
    return [slice(start, max(start, stop)) for start, stop in zip(starts.tolist(), stops.tolist())]


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


class _ChunkRun:
    """One chunk of the plan with its engine and its per-position slices, precomputed."""

    def __init__(self, rows: AxisCrops, cols: AxisCrops, engine: Engine) -> None:
        self.engine = engine
        self.rows, self.cols = _AxisSlices(rows), _AxisSlices(cols)

    def run(self, source: np.ndarray, patches: list[np.ndarray], rows: list[int], cols: list[int]) -> list[np.ndarray]:
        """The next patches of the masks at grid positions (rows, cols), given their current ones."""
        r, c = self.rows, self.cols
        crops = np.empty((len(rows), source.shape[1], r.length, c.length), dtype=np.float32)
        for slot, (row, col) in enumerate(zip(rows, cols)):
            crops[slot] = source[0, :, r.crop[row], c.crop[col]]
            crops[slot, :, r.paste[row], c.paste[col]] = patches[slot][:, r.patch[row], c.patch[col]]
        result = self.engine.run(crops)[0]
        if result.shape[2:] != (r.out_length, c.out_length):
            raise RuntimeError(
                f"incremental inference: a chunk gave crops of {result.shape[2:]}, not the "
                f"{(r.out_length, c.out_length)} planned; please report this and "
                'use Incremental="off".'
            )
        return [result[slot, :, r.keep[row], c.keep[col]] for slot, (row, col) in enumerate(zip(rows, cols))]


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
        Axes that take the network's input layout to the chain's NCHW (the graph's own front
        transpose of an NHWC input, done here once per map); None when the input is NCHW.
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
        self._chunks = [_ChunkRun(chunk.rows, chunk.cols, engine) for chunk, engine in zip(plan.chunks, engines)]
        self._suffix = suffix
        self._into_rows, self._into_cols = _slices(*plan.changed_rows), _slices(*plan.changed_cols)
        self._kept: list[np.ndarray] = []

    def _finish(self, activation: np.ndarray) -> np.ndarray:
        return activation if self._suffix is None else self._suffix.run(activation)[0]

    def reference(self, base: np.ndarray) -> np.ndarray:
        """The selected output for the unoccluded (native-layout, normalised) image; keeps the
        activation of every cut of the chain for :meth:`outputs`."""
        self._kept = [self._nchw(base)]
        for chunk in self._chunks:
            self._kept.append(chunk.engine.run(self._kept[-1])[0])
        return self._finish(self._kept[-1])

    def _nchw(self, image: np.ndarray) -> np.ndarray:
        return image if self.front_perm is None else np.ascontiguousarray(image.transpose(self.front_perm))

    def _batch(self, fill: np.ndarray, grid: MaskGrid, masks: range) -> np.ndarray:
        """The selected output for the masks ``masks`` (indices in grid order)."""
        grid_rows, grid_cols = grid.axes
        rows, cols = [index // len(grid_cols) for index in masks], [index % len(grid_cols) for index in masks]
        patches = [fill[0, :, slice(*grid_rows[row]), slice(*grid_cols[col])] for row, col in zip(rows, cols)]
        for chunk, source in zip(self._chunks, self._kept):
            patches = chunk.run(source, patches, rows, cols)
        activation = np.repeat(self._kept[-1], len(masks), axis=0)
        for slot, (row, col, patch) in enumerate(zip(rows, cols, patches)):
            activation[slot][:, self._into_rows[row], self._into_cols[col]] = patch
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
        fill = self._nchw(fill)
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
