"""Several jobs as one stream of images, cut into batches that may mix jobs.

Job number ``k`` of a stream (its *serial*) contributes its images ``0..len(job)-1`` in order,
right after job ``k - 1``'s, so the end of one map's masks and the start of the next share a
batch: small maps keep a device busy and pay a call's fixed cost once. Jobs are taken from
their iterable only as batches need them, so a lazy generator of any number of jobs streams in
memory bounded by a few batches.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

from .job import Batch, OcclusionJob, Part

__all__ = ["ImageStream"]


class ImageStream:
    """The images of ``jobs`` (all in one layout and size), at most ``limit`` per batch.

    When every job is known before the first batch (a single map, or a few small ones), the
    limit is lowered to their total number of images, as a larger batch could never be filled.
    """

    def __init__(self, jobs: Iterable[OcclusionJob], limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a stream needs batches of at least one image; got {limit}")
        self._jobs = iter(jobs)
        self._pending: deque[tuple[int, OcclusionJob]] = deque()  # jobs with images not yet batched
        self._next_image = 0  # of the first pending job
        self._serials = 0
        self._exhausted = False
        self._pull(limit)
        self.limit = min(limit, self._waiting()) if self._exhausted else limit

    def _waiting(self) -> int:
        """Images of the pending jobs not yet in a batch."""
        return sum(len(job) for _, job in self._pending) - self._next_image

    def _pull(self, wanted: int) -> None:
        """Take jobs until ``wanted`` images wait or no job is left."""
        waiting = self._waiting()
        while waiting < wanted and not self._exhausted:
            job = next(self._jobs, None)
            if job is None:
                self._exhausted = True
            else:  # every job has at least its reference image
                self._pending.append((self._serials, job))
                self._serials += 1
                waiting += len(job)

    def batches(self, next_size: Callable[[int, int], int] | None = None) -> Iterator[Batch]:
        """The batches in stream order. ``next_size(limit, remaining)`` gives each batch's size
        (default: the limit), ``remaining`` being the images known to wait (at least ``limit``
        unless the stream is ending)."""
        while True:
            self._pull(self.limit)
            remaining = self._waiting()
            if remaining == 0:
                return
            size = min(next_size(self.limit, remaining) if next_size is not None else self.limit, remaining)
            yield self._take(size)

    def _take(self, size: int) -> Batch:
        parts = []
        slot = 0
        while slot < size:
            serial, job = self._pending[0]
            stop = min(len(job), self._next_image + size - slot)
            parts.append(Part(serial, job, self._next_image, stop, slot))
            slot += stop - self._next_image
            if stop == len(job):
                self._pending.popleft()
                self._next_image = 0
            else:
                self._next_image = stop
        return Batch.of(tuple(parts))
