"""The batch size a CPU engine runs fastest at, found on the stream's own images.

``MiniBatchSize`` (MATLAB default 128) bounds how many occluded images go through the network
per call, but it is rarely the fastest choice on a CPU: large batches push the activations out
of the caches (figures in docs/performance.md). So the first batches a CPU engine streams are a
search: sizes 1, 2, 4, ... each run once to warm up (a runtime plans memory and picks kernels on
the first run of a shape) and timed twice, the two timings of each size taken at different
moments so that a burst of load from other processes does not decide. Every image of the search
is one of the stream's masks, so no forward pass is spent on the search itself; only the sizes
are not yet the best. The search stops at the first size clearly slower than the best, and
before a size that would grow the process by more than :data:`MEMORY_BUDGET` (a runtime's arena
keeps what its largest batch needed). It continues across calls until it is done, and the
sizes it tries never depend on the job, so the memory a map needs does not grow with its number
of masks. Batch size never changes which images are computed, only how many per call.
"""

from __future__ import annotations

import os
from collections import Counter, deque
from collections.abc import Callable

__all__ = ["MEMORY_BUDGET", "BatchSizer", "candidate_sizes", "resident_bytes"]

#: A size this much slower per image than the best so far is past the optimum: larger sizes
#: (more memory traffic per call) will not be faster, so the search stops.
PAST_OPTIMUM = 1.2
#: Timed runs per size, after its warm-up run; the least is kept (interference only adds time).
TIMED_RUNS = 2
#: Most the search may grow the process, extrapolating each size's memory from the sizes before.
MEMORY_BUDGET = 256 * 2**20
#: After the search, one batch in this many runs at a size next to the fastest, so that a size
#: the search timed while other processes were busy gets timed again.
EXPLORE_EVERY = 16
#: Each size is judged by the least of its latest this-many timings: the least, as interference
#: only adds time; the latest few, so that the size run most often is not favoured by having had
#: the most chances at one lucky timing, and a size that got slower is seen to be.
RECENT_TIMINGS = 3


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
    """An engine's batch-size search and its timings, kept for the engine's lifetime.

    The stream asks :meth:`next_size` before each batch and reports each batch's run time with
    :meth:`record`.
    """

    def __init__(self, memory: Callable[[], int | None] = resident_bytes) -> None:
        self._memory = memory
        self._runs: Counter[int] = Counter()  # runs of each size the search asked for
        self._timings: dict[int, deque[float]] = {}  # latest seconds per image of each timed size
        self._stop_at: int | None = None  # the first size not to try
        self._start: int | None = None  # resident memory after the search's first run
        self._per_image = 0.0  # the most memory per image a size grew the process by
        self._asked: int | None = None
        self._limit: int | None = None  # the limit of the latest request
        self._chosen = 0  # batches run at a chosen size since the search
        self._done_for: int | None = None  # the limit the search is done for

    @property
    def largest_tried(self) -> int:
        """The largest batch size the search has run (0 before any)."""
        return max(self._runs, default=0)

    def best(self, limit: int) -> int | None:
        """The fastest size measured up to ``limit``, or None before any timing."""
        measured = {size: self._per_image_seconds(size) for size in self._timings if size <= limit}
        return min(measured, key=measured.__getitem__) if measured else None

    def _per_image_seconds(self, size: int) -> float:
        return min(self._timings[size])

    @property
    def settled(self) -> bool:
        """Whether the search is done for the latest request's limit."""
        return self._limit is not None and self._pending(self._limit) is None

    def next_size(self, limit: int, remaining: int) -> int:
        """Images for the next call: the search's next size while it is unfinished and fits in
        ``remaining``; then the fastest size found (``limit`` before any), every
        :data:`EXPLORE_EVERY`-th time a size next to it instead."""
        self._limit = limit
        size = self._pending(limit)
        if size is None or size > remaining:
            best = self.best(limit)
            if best is None:
                size = limit
            else:
                self._chosen += 1
                size = self._neighbour(best, limit) if self._chosen % EXPLORE_EVERY == 0 else best
        self._asked = size if size <= remaining else None
        return min(size, remaining)

    def _neighbour(self, best: int, limit: int) -> int:
        """The timed size just below or just above ``best``, in turn."""
        sizes = sorted(size for size in self._timings if size <= limit)
        at = sizes.index(best)
        around = [
            size for size in (sizes[at - 1] if at else None, sizes[at + 1] if at + 1 < len(sizes) else None) if size
        ]
        return around[(self._chosen // EXPLORE_EVERY) % len(around)] if around else best

    def record(self, size: int, seconds: float) -> None:
        """The run time of a batch of ``size`` images that :meth:`next_size` asked for."""
        if size != self._asked:
            return  # a job's last batch, smaller than asked
        self._asked = None
        self._runs[size] += 1
        if self._runs[size] <= 1 + TIMED_RUNS:  # a search run: memory matters for the next size
            now = self._memory()
            if self._start is None:
                self._start = now  # after one image: the runtime's fixed costs are not per image
            elif now is not None and size > 1:
                self._per_image = max(self._per_image, (now - self._start) / (size - 1))
        if self._runs[size] == 1:
            return  # the warm-up
        self._timings.setdefault(size, deque(maxlen=RECENT_TIMINGS)).append(seconds / size)
        fastest = min(self._per_image_seconds(other) for other in self._timings)
        if self._runs[size] == 2 and self._per_image_seconds(size) > PAST_OPTIMUM * fastest:
            self._stop_at = size + 1

    def _pending(self, limit: int) -> int | None:
        """The size the search needs run next: first a warm-up and a timing for each size in
        increasing order, then the remaining timings, size after size."""
        if limit == self._done_for:
            return None
        size = self._next_search_size(limit)
        if size is None:
            self._done_for = limit  # asked before every batch: answer from here on at once
        return size

    def _next_search_size(self, limit: int) -> int | None:
        for size in candidate_sizes(limit):
            if self._stop_at is not None and size >= self._stop_at:
                break
            if self._runs[size] == 0 and self._per_image * size > MEMORY_BUDGET:
                self._stop_at = size
                break
            if self._runs[size] < 2:
                return size
        for size in sorted(self._runs):
            if size <= limit and self._runs[size] < 1 + TIMED_RUNS:
                return size
        return None
