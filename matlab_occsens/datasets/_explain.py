"""Images (or volumes, or signals) to maps, one after another in input order, for one process
(a worker or the caller).

The job's options are resolved once (:func:`job_options`): every item is fitted to the
network's input size, so the mask grid and every option but an automatic MaskValue are the same
for all of them. Each item is then read and fitted to the network as the single-file command
reads and fits it (:func:`.kinds.read_fitted`), and turned into a map request (classified
first when its channel is its prediction, else by the map's own pass of the unoccluded image);
the requests flow through one occlusion stream, so the masks of several small maps share
batches. A file that cannot be read or fitted (corrupt, too large, out of memory while decoding)
becomes a failed result with its reason instead of stopping the others; a stream that runs out
of memory has its remaining images computed one at a time, and an image that runs out of memory
alone is a failure of that image.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from .._core.formats import spatial_size
from .._core.grid import MaskGrid, mask_grid
from .._core.labels import rank_classes
from .._core.occlusion import MapRequest, map_results
from .._core.options import (
    DEFAULTS,
    FUNCTION,
    OcclusionOptions,
    auto_mask_value,
    observation_argument,
    occlusion_options,
)
from .._core.predict import selected_outputs
from .._utils.namevalue import is_text, parse_name_value
from ..image._imageio import MAX_IMAGE_BYTES, byte_limit
from ..network._base import Network
from ._kinds import job_kind, read_fitted
from ._sources import ImageEntry, file_stamp

__all__ = ["ImageResult", "JobOptions", "explain_images", "job_options", "map_shape"]


@dataclass(frozen=True)
class JobOptions:
    """``occlusionSensitivity``'s options for every image of a job, resolved once."""

    given: dict[str, Any]
    """The options with MATLAB's names, defaults filled in (Verbose left out: a job shows its own
    progress): what the store records."""
    resolved: OcclusionOptions
    """Resolved against the network's input size; ``mask_value`` holds a given MaskValue."""
    grid: MaskGrid
    auto_fill: bool
    """MaskValue "auto": each image is filled with its own channel means."""
    max_image_bytes: float | None = MAX_IMAGE_BYTES
    """The largest decoded image read (``imread``'s MaxImageBytes); None for no limit."""

    @property
    def masks(self) -> int:
        return len(self.grid)


def job_options(
    net: Network, args: tuple[Any, ...], kwargs: dict[str, Any], max_image_bytes: Any = MAX_IMAGE_BYTES
) -> JobOptions:
    """Parse and check every option of the job once, before any image is read."""
    given = {
        name: value for name, value in parse_name_value(FUNCTION, DEFAULTS, args, kwargs).items() if name != "Verbose"
    }
    limit = byte_limit(max_image_bytes, FUNCTION)
    probe = observation_argument(np.zeros(net.InputSize, np.float32), net.InputSize, net.InputDataFormats)
    resolved = occlusion_options(probe, (), given)
    grid = mask_grid(probe.shape[:-1], resolved.mask_size, resolved.stride, resolved.mask_clipping)
    return JobOptions(given, resolved, grid, is_text(given["MaskValue"]), None if limit == float("inf") else limit)


def map_shape(net: Network, options: JobOptions, width: int) -> tuple[int, ...]:
    """The shape of every map of the job: H×W, S1×S2×S3 or T (the grid's with
    ``OutputUpsampling="none"``), ×n for n channels."""
    upsampled = options.resolved.output_upsampling != "none"
    size = spatial_size(net.InputDataFormats, net.InputSize) if upsampled else options.grid.shape
    return (*size, width) if width > 1 else tuple(size)


@dataclass(frozen=True)
class ImageResult:
    """One image's outcome: its map, or why there is none."""

    index: int
    scoremap: np.ndarray | None
    channels: tuple[int, ...]
    """The 1-based channels of the map."""
    predicted: int
    """The 1-based top-1 class, or 0 when the output is not a class-score vector."""
    score: float
    """The top-1 class's probability (NaN when there is none)."""
    error: str | None = None
    stamp: tuple[int, int] = (0, 0)
    """The size and modification time of the image's file before it was read (0, 0 for arrays)."""

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class _Prepared:
    index: int
    channels: tuple[int, ...] = ()
    predicted: int = 0
    score: float = float("nan")
    classified: bool = False
    """Whether ``predicted`` and ``score`` are known already (else they come with the map)."""
    request: MapRequest | None = None
    error: str | None = None
    stamp: tuple[int, int] = (0, 0)

    def failed(self, reason: str | None = None) -> ImageResult:
        return ImageResult(
            self.index, None, self.channels, self.predicted, self.score, reason or self.error, self.stamp
        )


def _top_class(scores: np.ndarray) -> tuple[int, float]:
    """The 1-based top-1 class and its probability from one image's output in MATLAB's layout;
    ``(0, NaN)`` when the output is not a class-score vector."""
    if scores.ndim != 2 or scores.shape[1] < 2:
        return 0, float("nan")
    ranking = rank_classes(scores, 1)
    return int(ranking.channels[0]), float(ranking.probabilities[0])


def _out_of_memory(error: BaseException, doing: str) -> str:
    said = " ".join(str(error).split())
    return f"out of memory {doing}" + (f" ({said})" if said else "")


def _prepare(
    net: Network,
    index: int,
    entry: ImageEntry,
    channels: tuple[int, ...] | None,
    channel_order: str,
    job: JobOptions,
) -> _Prepared:
    item = _Prepared(index)
    try:
        item.stamp = file_stamp(entry)
        fitted = read_fitted(entry, job_kind(net), net.InputSize, channel_order, job.max_image_bytes)
        image = observation_argument(fitted.pixels, net.InputSize, net.InputDataFormats)
        net.warn_pixel_range(image, FUNCTION)
        if channels is None:  # the map's channel is the prediction: one forward pass before the map
            environment = job.resolved.execution_environment
            (scores,) = selected_outputs(net, image[np.newaxis], 1, environment)
            item.predicted, item.score = _top_class(scores)
            item.classified = True
            if item.predicted == 0:
                raise ValueError(
                    f"output {net.OutputNames[0]!r} is not a class-score vector, so it has no "
                    f"predicted class; give channelIdx"
                )
            channels = (item.predicted,)
        item.channels = channels
        options = replace(job.resolved, mask_value=auto_mask_value(image)) if job.auto_fill else job.resolved
        item.request = MapRequest(image, np.asarray(channels, np.int64) - 1, options, job.grid)
    except (ValueError, TypeError) as error:
        item.error = str(error)
    except OSError as error:
        item.error = f"cannot read it ({error.strerror or error})"
    except ImportError as error:  # a worker without the reader's extra (nibabel: [volumes])
        item.error = str(error)
    except MemoryError as error:
        item.error = _out_of_memory(error, "while reading or fitting it")
    except cv2.error as error:  # OpenCV's own failures, allocation among them
        reason = " ".join(str(error).split())
        item.error = _out_of_memory(error, "while decoding it") if "memory" in reason.lower() else f"OpenCV: {reason}"
    return item


def explain_images(
    net: Network,
    items: Iterable[tuple[int, ImageEntry, tuple[int, ...] | None]],
    job: JobOptions,
    channel_order: str = "RGB",
) -> Iterator[ImageResult]:
    """Yield an :class:`ImageResult` for each ``(index, image, channels)`` in order.

    ``channels`` are 1-based, or None for the image's top-1 class. Memory holds the stream's
    look-ahead only. With given channels, the prediction is read off the map's own pass of the
    unoccluded image.
    """
    source = iter(items)
    pending: deque[_Prepared] = deque()

    def requests() -> Iterator[MapRequest]:
        for index, entry, channels in source:
            item = _prepare(net, index, entry, channels, channel_order, job)
            pending.append(item)
            if item.request is not None:
                yield item.request

    def finished(item: _Prepared, scoremap: np.ndarray, reference: np.ndarray) -> ImageResult:
        if not item.classified:
            item.predicted, item.score = _top_class(reference)
        return ImageResult(item.index, scoremap, item.channels, item.predicted, item.score, None, item.stamp)

    try:
        for result in map_results(net, requests()):
            while pending[0].request is None:
                yield pending.popleft().failed()
            yield finished(pending.popleft(), result.scoremap, result.reference)
    except MemoryError:  # a batch too large for the memory left: every image still due, alone
        rest = (_prepare(net, index, entry, channels, channel_order, job) for index, entry, channels in source)
        for item in itertools.chain(list(pending), rest):
            if item.request is None:
                yield item.failed()
                continue
            try:
                (alone,) = map_results(net, [item.request])
            except MemoryError as error:
                yield item.failed(_out_of_memory(error, "while computing its map"))
                continue
            yield finished(item, alone.scoremap, alone.reference)
        return
    while pending:
        yield pending.popleft().failed()
