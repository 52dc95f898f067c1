"""The batch size an engine runs fastest at, measured on the engine itself.

``MiniBatchSize`` (MATLAB default 128) bounds how many occluded images go through the network
per call, but it is rarely the fastest choice on a CPU: per image, EfficientNet-Lite0 on two
cores takes about 4 ms at batch 2-4 and 5-6 ms at batch 128 under ONNX Runtime, and eager torch
slows down even more, because large batches push the activations out of the caches. So a CPU
engine times a few batch sizes up to the requested one, once, on copies of the real input, and
the occlusion stream uses the fastest. The sizes tried depend on the engine only, never on the
job, so the memory a map needs does not grow with its number of masks; and the search stops
before a size that would grow the process by more than :data:`MEMORY_BUDGET` (a runtime's arena
keeps what its largest batch needed: EfficientNet-Lite0 takes about 14 MB per image in ONNX
Runtime). Batch size never changes which images are computed, only how many go per call.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

__all__ = ["BatchSizer", "MEMORY_BUDGET", "MIN_SEARCH_IMAGES", "candidate_sizes", "resident_bytes"]

#: A size this much slower per image than the best so far is past the optimum: larger sizes
#: (more memory traffic per call) will not be faster, so the search stops.
PAST_OPTIMUM = 1.2
#: Timed runs per size after the warm-up run (the least is kept: interference only adds time).
TIMED_RUNS = 2
#: Jobs smaller than this run at the requested size: the search (three runs of each size up to
#: the optimum, about 100 images for EfficientNet-Lite0) would cost more than it can save.
MIN_SEARCH_IMAGES = 64
#: Most the search may grow the process, extrapolating each size's memory from the sizes before.
MEMORY_BUDGET = 256 * 2**20


def resident_bytes() -> int | None:
    """This process's resident memory, where the system says it cheaply (Linux); else None."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def candidate_sizes(limit: int) -> list[int]:
    """Powers of two below ``limit``, then ``limit`` itself: 1, 2, 4, ..., limit."""
    sizes = []
    size = 1
    while size < limit:
        sizes.append(size)
        size *= 2
    return [*sizes, limit]


class BatchSizer:
    """Measured seconds per image at each batch size tried, kept for the engine's lifetime."""

    def __init__(
        self,
        clock: Callable[[], float] = time.perf_counter,
        memory: Callable[[], int | None] = resident_bytes,
    ) -> None:
        self._clock = clock
        self._memory = memory
        self._seconds: dict[int, float] = {}
        self._stop_at: int | None = None  # the first size not to try

    @property
    def largest_tried(self) -> int:
        """The largest batch size the search has run (0 before any)."""
        return max(self._seconds, default=0)

    def _seconds_per_image(self, run: Callable[[np.ndarray], object], batch: np.ndarray) -> float:
        start = self._clock()
        run(batch)
        return (self._clock() - start) / len(batch)

    def choose(
        self, run: Callable[[np.ndarray], object], sample: np.ndarray, limit: int, images: int
    ) -> int:
        """The fastest batch size up to ``limit`` for a job of ``images`` images.

        The first time, sizes are tried in increasing order until one is clearly slower than the
        best so far, or the next would need more than :data:`MEMORY_BUDGET`; each size is run
        once to warm up and timed :data:`TIMED_RUNS` times, the runs of
        different sizes interleaved, keeping the least, so that a burst of load from other
        processes does not decide. Later calls reuse the times. ``sample`` is one native-layout
        image (batch axis first). A job smaller than :data:`MIN_SEARCH_IMAGES` with nothing
        measured yet runs at ``limit``.
        """
        if images >= MIN_SEARCH_IMAGES:
            self._search(run, sample, limit)
        measured = {size: seconds for size, seconds in self._seconds.items() if size <= limit}
        return min(measured, key=measured.__getitem__) if measured else limit

    def _search(self, run: Callable[[np.ndarray], object], sample: np.ndarray, limit: int) -> None:
        new = []
        start = self._memory()
        per_image = 0.0  # the most memory per image any size so far grew the process by
        for size in candidate_sizes(limit):
            if size in self._seconds:
                continue
            if self._stop_at is not None and size >= self._stop_at:
                break
            if start is not None and per_image * size > MEMORY_BUDGET:
                self._stop_at = size
                break
            batch = np.repeat(sample, size, axis=0)
            run(batch)  # the first run of a shape plans memory and picks kernels
            self._seconds[size] = self._seconds_per_image(run, batch)
            new.append(size)
            now = self._memory()
            if start is not None and now is not None:
                per_image = max(per_image, (now - start) / size)
            if self._seconds[size] > PAST_OPTIMUM * min(self._seconds.values()):
                self._stop_at = size + 1
                break
        for _ in range(TIMED_RUNS - 1):
            for size in new:
                batch = np.repeat(sample, size, axis=0)
                self._seconds[size] = min(self._seconds[size], self._seconds_per_image(run, batch))
