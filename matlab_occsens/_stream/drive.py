"""The stream drives an engine: which images each forward call gets, how many, how far ahead.

Three ways, the values the same in each:

- the engine builds the images on its device (:meth:`Engine.device_occluder`): batches of the
  stream's limit, the next one started while the host collects the previous one's output;
- a CPU engine: the host builds the batches, and their sizes are the batch-size search
  (:mod:`.batch_size`), on the stream's own images, kept per engine across calls;
- any other engine (a GPU without device-side occlusion): host-built batches of the limit.

The search's state is derived here from the engine, so it is kept here, weakly keyed by the
engine: it lives as long as the engine and no longer.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from .batch_size import BatchSizer
from .job import Batch, HostBuilder
from .run_ahead import run_ahead
from .sequence import ImageStream

if TYPE_CHECKING:  # the stream drives engines through their contract; backends import the stream's rule
    from .._backends.engine import Engine

__all__ = ["ForwardObserver", "batch_search", "observe_forwards", "occluded_outputs"]

#: Called after each forward call of a stream with the batch and the call's seconds, as the host
#: sees it (for a device occluder: the time to start the call).
ForwardObserver = Callable[[Batch, float], None]


class _EngineState:
    """What the stream keeps per engine: its batch-size search, the size whose memory was last
    given back, and the observers of its forward calls."""

    def __init__(self) -> None:
        self.sizer = BatchSizer()
        self.released = 0
        self.observers: list[ForwardObserver] = []


_states: weakref.WeakKeyDictionary[Engine, _EngineState] = weakref.WeakKeyDictionary()


def _state(engine: Engine) -> _EngineState:
    state = _states.get(engine)
    if state is None:
        state = _states[engine] = _EngineState()
    return state


def batch_search(engine: Engine) -> BatchSizer:
    """The batch-size search the stream runs for ``engine`` (a documented hook for benchmarks
    and tests: ``settled``, ``largest_tried``, ``best``)."""
    return _state(engine).sizer


@contextmanager
def observe_forwards(engine: Engine, observer: ForwardObserver) -> Iterator[None]:
    """Call ``observer(batch, seconds)`` after every forward call streams make on ``engine``
    inside the block (a documented hook: benchmarks time the forward calls with it)."""
    observers = _state(engine).observers
    observers.append(observer)
    try:
        yield
    finally:
        observers.remove(observer)


def occluded_outputs(engine: Engine, stream: ImageStream, input_format: str) -> Iterator[tuple[Batch, np.ndarray]]:
    """Yield ``(batch, first selected output)`` for every batch of ``stream``, in stream order."""
    state = _state(engine)
    occluder = engine.device_occluder(input_format)
    if occluder is not None:
        yield from _on_device(occluder.start, stream, state)
        return
    builder = HostBuilder()
    next_size = state.sizer.next_size if engine.device == "cpu" else None
    for batch in stream.batches(next_size):
        images = builder.build(batch)
        if next_size is not None:
            _release_if_settled(engine, state, len(batch))
        start = time.perf_counter()
        output = engine.run_streamed(images)
        seconds = time.perf_counter() - start
        if next_size is not None:
            state.sizer.record(len(batch), seconds)
        for observer in state.observers:
            observer(batch, seconds)
        yield batch, output


def _on_device(
    start: Callable[[Batch], Callable[[], np.ndarray]], stream: ImageStream, state: _EngineState
) -> Iterator[tuple[Batch, np.ndarray]]:
    def timed_start(batch: Batch) -> Callable[[], np.ndarray]:
        began = time.perf_counter()
        pending = start(batch)
        for observer in state.observers:
            observer(batch, time.perf_counter() - began)
        return pending

    for batch, pending in run_ahead(timed_start, stream.batches()):
        yield batch, pending()


def _release_if_settled(engine: Engine, state: _EngineState, size: int) -> None:
    """Once the search has settled below the largest size it tried, tell the engine once per
    such size (the memory kept for that size is then handed back)."""
    sizer = state.sizer
    if sizer.settled and sizer.largest_tried > max(size, state.released):
        state.released = sizer.largest_tried
        engine.release_memory()
