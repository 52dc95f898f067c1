"""``Incremental="auto"``: the faster path, measured on the map's own masks.

Which path is faster depends on the network, the grid, the machine and how busy it is (the
incremental path's one-thread-per-core sessions hold up better when other processes share the
cores), which a cost model fitted once cannot know. So, like the batch-size search, "auto" times
both paths on masks the map needs anyway, in alternating turns so that both meet the same load:
the ordinary passes take the map's first grid rows from the front, the incremental passes its
last rows from the back (a grid's *row* is its masks at one position of the first axis: a row of
an image's grid, a slice of a volume's, one time step of a signal's); each ordinary turn stops
when it has run as many images as an incremental turn, or as long. The faster path
then does the rest, and the choice is kept for the network, output selection and grid, followed
by the next :data:`RECHECK_EVERY` calls without timing, then measured again (the better path
changes with the machine's load). A measurement costs the slower path's share of a map, so each one that
confirms the choice doubles the calls before the next, up to :data:`RECHECK_MOST`; one that
overturns it starts again from :data:`RECHECK_EVERY`. No forward pass is spent on the
measurement: every batch of either path is part of the map (the incremental path's pass of the
unoccluded image, which it needs for its own activations, is the one extra).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

import numpy as np

from .._core.grid import MaskGrid
from .._stream.job import REFERENCE, OcclusionJob, image_of_mask
from .._utils.kept_cache import KeptCache
from .cache import Choice, grid_key
from .runner import IncrementalForward

__all__ = ["RECHECK_EVERY", "RECHECK_MOST", "TURNS", "MeasuredForward", "measured_outputs"]

TURNS = 3
"""Turns of each path while measuring; each path's least time per mask over its turns is
compared (in alternating turns, a burst of load from other processes falls on both alike, and
the least of a few turns is the one it spared)."""
RECHECK_EVERY = 16
"""Calls that follow a new choice before it is measured again (as the batch-size search runs a
size next to its choice once in 16 batches). A measurement costs a fifth to a third of a map at
MATLAB's defaults on EfficientNet-Lite0 (docs/incremental.md), so once in 8 calls was 2-4%."""
RECHECK_MOST = 64
"""The most calls that follow a choice confirmed again and again before it is measured again
(a measurement's cost spread over them is then under 1% of a map per call)."""

Outputs = Iterator[tuple[int, np.ndarray]]
Key = TypeVar("Key", bound=Hashable)


class MeasuredForward(IncrementalForward):
    """The incremental passes of "auto": :meth:`images` gives a job's images from the path
    measured faster (see :func:`measured_outputs`), the ordinary passes coming from ``ordinary``.

    ``choices`` keeps, per grid and batch size, what was measured (kept with the network's
    other derived values, so a second call pays nothing).
    """

    def __init__(
        self,
        *args: Any,
        ordinary: Callable[[OcclusionJob], Outputs],
        choices: KeptCache[tuple[Hashable, int], Choice],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._ordinary = ordinary
        self._choices = choices

    def images(self, job: OcclusionJob) -> Outputs:
        key = (grid_key(job.grid), job.batch_size)
        return measured_outputs(self._ordinary, self, job, self._choices, key)


def measured_outputs(
    ordinary: Callable[[OcclusionJob], Outputs],
    forward: IncrementalForward,
    job: OcclusionJob,
    choices: KeptCache[Key, Choice],
    key: Key,
) -> Outputs:
    """Every image of ``job`` in its numbering, from the path measured faster for ``key``.

    ``ordinary(job)`` streams a job's images through the ordinary passes; it must compute a
    batch only when asked for it (as CPU engines do), so that a paused stream costs nothing.
    """
    choice = choices.get(key)
    if choice is not None and choice.calls < choice.interval:
        choice.calls += 1
        return _incremental(forward, job, 0, len(job.grid)) if choice.incremental_wins else ordinary(job)
    return _measuring(ordinary, forward, job, choices, key, choice)


def _incremental(
    forward: IncrementalForward, job: OcclusionJob, first: int, stop: int, reference: bool = True
) -> Outputs:
    """Masks ``first..stop-1`` through the incremental path, numbered as images of ``job``
    (with the unoccluded image first when ``reference``)."""
    if reference:
        yield REFERENCE, forward.reference(job.base)
    for start, output in forward.outputs(job.fill, job.grid, first, stop):
        yield image_of_mask(start), output


def _measuring(
    ordinary: Callable[[OcclusionJob], Outputs],
    forward: IncrementalForward,
    job: OcclusionJob,
    choices: KeptCache[Key, Choice],
    key: Key,
    previous: Choice | None,
) -> Outputs:
    grid = job.grid
    grid_rows, *others = grid.axes  # a "row": the masks at one position of the first axis
    width = math.prod(len(ranges) for ranges in others)
    turn = 2 * forward.workers * forward.batch_size  # every worker busy for a few batches
    tail_rows = min(math.ceil(TURNS * turn / width), len(grid_rows) - 1)
    if tail_rows < 1:  # one grid row: nothing to split, the incremental path was predicted no slower
        yield from _incremental(forward, job, 0, len(grid))
        return
    front_rows = len(grid_rows) - tail_rows
    front = dataclasses.replace(job, grid=MaskGrid((grid_rows[:front_rows], *others)))
    split = front_rows * width  # masks before this: the ordinary stream; from it on: the incremental trial
    # Turns end on whole batches of the grid (see IncrementalForward.outputs): a batch of a size
    # not seen before costs each engine a first run's planning, which would be charged to the trial.
    size = forward.batch_size
    inner = [min(math.ceil(bound / size) * size, len(grid)) for bound in np.linspace(split, len(grid), TURNS + 1)[1:-1]]
    bounds = list(dict.fromkeys([split, *inner, len(grid)]))  # no empty turn

    stream = ordinary(front)
    done = 0  # images the ordinary stream has given
    rates: dict[str, list[float]] = {"ordinary": [], "incremental": []}  # seconds per image of each turn
    forward.reference(job.base)  # its output is the reference image, which the ordinary stream gives
    # Each ordinary turn runs as many images as the incremental turn after it or as long as the
    # one before it, whichever comes first (at least one batch): where the incremental path is far
    # faster, measuring costs the ordinary path a few batches. The first is the stream's first
    # batch alone, which holds the unoccluded image: the map scores that image first (a
    # ReductionFcn is tried on it alone before any occluded input).
    spent = 0.0  # seconds of the last incremental turn
    for first, stop in itertools.pairwise(bounds):
        target = done + (stop - first)
        seconds, images = 0.0, 0
        while done < min(target, len(front)) and (images == 0 or seconds < spent):
            start = time.perf_counter()
            index, output = next(stream)
            seconds += time.perf_counter() - start
            images += len(output)
            done = index + len(output)
            yield index, output
        if images:
            rates["ordinary"].append(seconds / images)
        start = time.perf_counter()
        outputs = list(_incremental(forward, job, first, stop, reference=False))
        spent = time.perf_counter() - start
        rates["incremental"].append(spent / (stop - first))
        yield from outputs
    rate = {side: min(values, default=math.inf) for side, values in rates.items()}  # interference only adds time
    choice = choices[key] = Choice(rate["ordinary"], rate["incremental"], RECHECK_EVERY)
    if previous is not None and previous.incremental_wins == choice.incremental_wins:
        choice.interval = min(2 * previous.interval, RECHECK_MOST)
    if choice.incremental_wins:
        close = getattr(stream, "close", None)  # it pauses between batches: nothing is running
        if close is not None:
            close()
        yield from _incremental(forward, job, done - 1, split, reference=False)  # image ``done`` is mask ``done - 1``
    else:
        yield from stream
