"""The contract every runtime fulfils: an :class:`Engine` computes the selected outputs of a
compiled network for native-layout float32 batches, and streams a map's occluded images through
them. The network object (``matlab_occsens.network``) builds engines; the occlusion code only
ever talks to this contract, so it never knows which runtime runs."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator

import numpy as np

from ..stream.batch_size import BatchSizer
from ..stream.job import OcclusionJob, occluded_batches

__all__ = ["Engine", "batches_correctly", "native_shape"]


class Engine(ABC):
    """A compiled network for one choice of outputs and one device."""

    #: "cpu" or "gpu": where the forward passes actually run.
    device: str = "cpu"
    #: Largest batch the engine accepts (1 for models whose graph cannot be batched).
    max_batch: int | None = None
    #: Workers a batch is split among (each computes its share of the images).
    workers: int = 1

    def __init__(self) -> None:
        self._sizer = BatchSizer()

    @abstractmethod
    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """Forward a native-layout float32 batch; one array per selected output, batch first."""

    def occluded_outputs(self, job: OcclusionJob) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first image, first selected output)`` for each batch of ``job``, in stream order.

        This default builds the occluded images on the host. On a CPU the first batches are the
        batch-size search (see :mod:`.batching`), on the map's own images; a GPU takes
        ``job.batch_size`` per call. Engines that can build the images where the network runs
        override this; the values are the same either way.
        """
        if self.device == "gpu":
            for first, batch in occluded_batches(job):
                yield first, self._run_streamed(batch)
            return

        def next_size(remaining: int) -> int:
            return self._sizer.next_size(job.batch_size, remaining)

        for first, batch in occluded_batches(job, next_size):
            start = time.perf_counter()
            output = self._run_streamed(batch)
            self._sizer.record(len(batch), time.perf_counter() - start)
            yield first, output

    def _run_streamed(self, batch: np.ndarray) -> np.ndarray:
        """The first selected output for one batch of a map."""
        return self.run(batch)[0]


def batches_correctly(engine: Engine, input_format: str, input_size: tuple[int, int, int]) -> bool:
    """Whether a batch gives the single-image results (a rewritten batch axis can silently break
    graphs that reshape with a hard-coded batch of 1). The probe has two images per worker, as
    an engine that splits batches among workers must see several images in each share."""
    probe = np.random.default_rng(0).standard_normal(
        native_shape(input_format, input_size, 2 * engine.workers), dtype=np.float32
    )
    try:
        together = engine.run(probe)
        alone = [engine.run(probe[index : index + 1]) for index in range(len(probe))]
    except Exception:  # the runtime rejects the rewritten graph: it cannot batch
        return False
    for position, output in enumerate(together):
        singles = np.concatenate([result[position] for result in alone])
        if output.shape != singles.shape or not np.allclose(output, singles, rtol=1e-4, atol=1e-5):
            return False
    return True


def native_shape(input_format: str, input_size: tuple[int, int, int], batch: int) -> tuple[int, ...]:
    """Shape of a batch of ``batch`` H×W×C images in the backend layout "BCSS" or "BSSC"."""
    height, width, channels = input_size
    if input_format == "BCSS":
        return (batch, channels, height, width)
    return (batch, height, width, channels)
