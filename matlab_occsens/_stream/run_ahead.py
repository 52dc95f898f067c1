"""Keep a device busy: start the next batch before the host handles the current one."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["run_ahead"]

Item = TypeVar("Item")
Result = TypeVar("Result")


def run_ahead(work: Callable[[Item], Result], items: Iterable[Item]) -> Iterator[tuple[Item, Result]]:
    """Yield ``(item, work(item))`` in order, with ``work`` on the next item already running.

    ``work`` runs in one worker thread, one item at a time, so the device sees the same
    sequence of calls; what overlaps is the caller's handling of each result with the next
    call. Runtimes release the GIL while they compute, so this pays off even in CPython.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="occsens") as worker:
        pending: tuple[Item, Future[Result]] | None = None
        for item in items:
            started = worker.submit(work, item)
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = (item, started)
        if pending is not None:
            yield pending[0], pending[1].result()
