"""Running a plan: each chunk on a mini-batch of crops, the suffix on patched activations.

The unoccluded image goes through the whole chain once; every cut's activation is kept. For a
mini-batch of masks, chunk by chunk: each mask's crop is cut from the kept activation of the
chunk's input, the mask's *patch* (its recomputed changed region, or the fill for the image
itself) is pasted in, the batch of crops is one ONNX Runtime call, and the changed region of the
result becomes the mask's next patch. The last patches are pasted into copies of the kept
activation where the suffix starts, and the suffix runs on those as on ordinary images.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..grid import MaskGrid
from ..network.base import Engine
from .plan import AxisCrops, Plan
from .windows import Intervals

__all__ = ["IncrementalForward"]


def _overlap(patch: Intervals, crop_starts: np.ndarray, length: int) -> tuple[np.ndarray, ...]:
    """Where each patch lands in its crop: destination and source ranges of their overlap."""
    starts, stops = patch
    first = np.maximum(starts, crop_starts)
    stop = np.minimum(stops, crop_starts + length)
    stop = np.maximum(stop, first)  # an empty overlap becomes an empty slice
    return first - crop_starts, stop - crop_starts, first - starts, stop - starts


class _ChunkRun:
    """One chunk of the plan with its engine and its per-position slices, precomputed."""

    def __init__(self, rows: AxisCrops, cols: AxisCrops, engine: Engine) -> None:
        self.engine = engine
        self.rows, self.cols = rows, cols
        self.paste_rows = _overlap(rows.changed_in, rows.starts, rows.length)
        self.paste_cols = _overlap(cols.changed_in, cols.starts, cols.length)
        self.keep_rows = self._kept(rows)
        self.keep_cols = self._kept(cols)

    @staticmethod
    def _kept(axis: AxisCrops) -> tuple[np.ndarray, np.ndarray]:
        starts, stops = axis.changed_out
        empty = starts >= stops
        return np.where(empty, 0, starts - axis.out_starts), np.where(empty, 0, stops - axis.out_starts)

    def run(self, source: np.ndarray, patches: list[np.ndarray], rows: np.ndarray, cols: np.ndarray) -> list[np.ndarray]:
        """The next patches of the masks at grid positions (rows, cols), given their current ones."""
        length_r, length_c = self.rows.length, self.cols.length
        crops = np.empty((len(rows), source.shape[1], length_r, length_c), dtype=np.float32)
        dst_r0, dst_r1, src_r0, src_r1 = self.paste_rows
        dst_c0, dst_c1, src_c0, src_c1 = self.paste_cols
        for slot, (row, col) in enumerate(zip(rows, cols)):
            start_r, start_c = self.rows.starts[row], self.cols.starts[col]
            crops[slot] = source[0, :, start_r : start_r + length_r, start_c : start_c + length_c]
            crops[slot, :, dst_r0[row] : dst_r1[row], dst_c0[col] : dst_c1[col]] = patches[slot][
                :, src_r0[row] : src_r1[row], src_c0[col] : src_c1[col]
            ]
        result = self.engine.run(crops)[0]
        if result.shape[2:] != (self.rows.out_length, self.cols.out_length):
            raise RuntimeError(
                f"incremental inference: a chunk gave crops of {result.shape[2:]}, not the "
                f"{(self.rows.out_length, self.cols.out_length)} planned; please report this and "
                'use Incremental="off".'
            )
        keep_r0, keep_r1 = self.keep_rows
        keep_c0, keep_c1 = self.keep_cols
        return [
            result[slot, :, keep_r0[row] : keep_r1[row], keep_c0[col] : keep_c1[col]]
            for slot, (row, col) in enumerate(zip(rows, cols))
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
    """

    def __init__(self, plan: Plan, engines: list[Engine], suffix: Engine | None) -> None:
        self.plan = plan
        self._chunks = [_ChunkRun(chunk.rows, chunk.cols, engine) for chunk, engine in zip(plan.chunks, engines)]
        self._suffix = suffix
        self._kept: list[np.ndarray] = []

    def _finish(self, activation: np.ndarray) -> np.ndarray:
        return activation if self._suffix is None else self._suffix.run(activation)[0]

    def reference(self, base: np.ndarray) -> np.ndarray:
        """The selected output for the unoccluded (native-layout, normalised) image; keeps the
        activation of every cut of the chain for :meth:`outputs`."""
        self._kept = [base]
        for chunk in self._chunks:
            self._kept.append(chunk.engine.run(self._kept[-1])[0])
        return self._finish(self._kept[-1])

    def outputs(self, fill: np.ndarray, grid: MaskGrid, batch_size: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first mask index, selected output)`` per mini-batch, in grid order."""
        if not self._kept:
            raise RuntimeError("IncrementalForward.reference must run first")
        last = self._kept[-1]
        changed_rows, changed_cols = self.plan.changed_rows, self.plan.changed_cols
        buffer = np.repeat(last, min(batch_size, len(grid)), axis=0)
        pasted: list[tuple[slice, slice] | None] = [None] * len(buffer)
        for first in range(0, len(grid), batch_size):
            index = np.arange(first, min(first + batch_size, len(grid)))
            rows, cols = np.divmod(index, len(grid.cols))
            patches = [
                fill[0, :, grid.rows[row, 0] : grid.rows[row, 1], grid.cols[col, 0] : grid.cols[col, 1]]
                for row, col in zip(rows, cols)
            ]
            for chunk, source in zip(self._chunks, self._kept):
                patches = chunk.run(source, patches, rows, cols)
            for slot, (row, col, patch) in enumerate(zip(rows, cols, patches)):
                previous = pasted[slot]
                if previous is not None:
                    buffer[slot][:, previous[0], previous[1]] = last[0][:, previous[0], previous[1]]
                window = (
                    slice(max(changed_rows[0][row], 0), max(changed_rows[1][row], 0)),
                    slice(max(changed_cols[0][col], 0), max(changed_cols[1][col], 0)),
                )
                buffer[slot][:, window[0], window[1]] = patch
                pasted[slot] = window
            yield first, self._finish(buffer[: len(index)])
