"""The batch size an engine runs fastest at, measured on the engine itself.

``MiniBatchSize`` (MATLAB default 128) bounds how many occluded images go through the network
per call, but it is rarely the fastest choice on a CPU: per image, EfficientNet-Lite0 on two
cores takes about 4 ms at batch 2-4 and 5-6 ms at batch 128 under ONNX Runtime, and eager torch
slows down even more, because large batches push the activations out of the caches. So a CPU
engine times a few batch sizes up to the requested one, once, on copies of the real input, and
the occlusion stream uses the fastest. The sizes tried depend on the engine only, never on the
job, so the memory a map needs does not grow with its number of masks. Batch size never changes
which images are computed, only how many go per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

__all__ = ["BatchSizer", "MIN_SEARCH_IMAGES", "candidate_sizes"]

#: A size this much slower per image than the best so far is past the optimum: larger sizes
#: (more memory traffic per call) will not be faster, so the search stops.
PAST_OPTIMUM = 1.2
#: Timed runs per size after the warm-up run (the least is kept: interference only adds time).
TIMED_RUNS = 2
#: Jobs smaller than this run at the requested size: the search (three runs of each size up to
#: the optimum, about 100 images for EfficientNet-Lite0) would cost more than it can save.
MIN_SEARCH_IMAGES = 64


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

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._seconds: dict[int, float] = {}
        self._past_optimum: int | None = None

    def _seconds_per_image(self, run: Callable[[np.ndarray], object], batch: np.ndarray) -> float:
        start = self._clock()
        run(batch)
        return (self._clock() - start) / len(batch)

    def choose(
        self, run: Callable[[np.ndarray], object], sample: np.ndarray, limit: int, images: int
    ) -> int:
        """The fastest batch size up to ``limit`` for a job of ``images`` images.

        The first time, sizes are tried in increasing order until one is clearly slower than the
        best so far; each is run once to warm up and timed :data:`TIMED_RUNS` times, the runs of
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
        for size in candidate_sizes(limit):
            if size in self._seconds:
                continue
            if self._past_optimum is not None and size > self._past_optimum:
                break
            batch = np.repeat(sample, size, axis=0)
            run(batch)  # the first run of a shape plans memory and picks kernels
            self._seconds[size] = self._seconds_per_image(run, batch)
            new.append(size)
            if self._seconds[size] > PAST_OPTIMUM * min(self._seconds.values()):
                self._past_optimum = size
                break
        for _ in range(TIMED_RUNS - 1):
            for size in new:
                batch = np.repeat(sample, size, axis=0)
                self._seconds[size] = min(self._seconds[size], self._seconds_per_image(run, batch))
