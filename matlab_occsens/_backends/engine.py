"""The contract every runtime fulfils: an :class:`Engine` computes the selected outputs of a
compiled network for native-layout float32 batches. The network object
(``matlab_occsens.network``) builds engines; the stream (``matlab_occsens._stream``) decides which
images go in each call, how many, and how far ahead to run, so it never knows which runtime runs.

An engine may also offer a :class:`DeviceOccluder`, which builds the stream's occluded images
where the network runs from the covered ranges the stream gives it (the rule of
:mod:`matlab_occsens._stream.job`), so that no image crosses the bus.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from .._core.formats import native_shape
from .._stream.job import Batch

__all__ = ["DeviceOccluder", "Engine", "batches_correctly"]


class DeviceOccluder(ABC):
    """Runs stream batches given as covered ranges, building the images on the engine's device."""

    @abstractmethod
    def start(self, batch: Batch) -> Callable[[], np.ndarray]:
        """Start the forward call of ``batch``; the returned callable waits for and returns its
        first selected output (host memory, batch first). The stream calls it from one worker
        thread, one batch at a time, and collects each result while the next batch runs."""


class Engine(ABC):
    """A compiled network for one choice of outputs and one device."""

    #: "cpu" or "gpu": where the forward passes actually run.
    device: str = "cpu"
    #: Largest batch the engine accepts (1 for models whose graph cannot be batched).
    max_batch: int | None = None
    #: Workers a batch is split among (each computes its share of the images).
    workers: int = 1

    @abstractmethod
    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """Forward a native-layout float32 batch; one array per selected output, batch first."""

    def run_streamed(self, batch: np.ndarray) -> np.ndarray:
        """The first selected output for one batch of a stream (the stream's forward call)."""
        return self.run(batch)[0]

    def device_occluder(self, input_format: str) -> DeviceOccluder | None:
        """The engine's own builder of occluded batches for inputs of ``input_format``, or None
        when the stream is to build them on the host. The values are the same either way."""
        return None

    def release_memory(self) -> None:  # noqa: B027  (a hook: doing nothing is the default)
        """Hook: the stream's batch-size search has settled on sizes smaller than the largest it
        tried. A runtime that keeps memory for the largest batch it ran (ONNX Runtime's arena)
        may hand back, during the next :meth:`run_streamed`, what smaller batches do not need.
        The default does nothing."""


def batches_correctly(engine: Engine, input_format: str, input_size: tuple[int, ...]) -> bool:
    """Whether a batch gives the single-image results (a rewritten batch axis can silently break
    graphs that reshape with a hard-coded batch of 1). The probe has two images per worker, as
    an engine that splits batches among workers must see several images in each share."""
    probe = np.random.default_rng(0).standard_normal(
        native_shape(input_format, input_size, 2 * engine.workers), dtype=np.float32
    )
    try:
        together = engine.run(probe)
        alone = [engine.run(probe[index : index + 1]) for index in range(len(probe))]
    except Exception:  # noqa: BLE001  (the runtime rejects the rewritten graph: it cannot batch)
        return False
    for position, output in enumerate(together):
        singles = np.concatenate([result[position] for result in alone])
        if output.shape != singles.shape or not np.allclose(output, singles, rtol=1e-4, atol=1e-5):
            return False
    return True
