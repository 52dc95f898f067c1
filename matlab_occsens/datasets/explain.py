"""Images to maps, one after another in input order, for one process (a worker or the caller).

Every image is read, fitted to the network as the single-image command fits it, and turned into
a map request (classified first when its channel is its prediction, else by the map's own pass
of the unoccluded image); the requests flow through one occlusion stream, so the masks of
several small maps share batches. A file that cannot be read or fitted, or a request that does
not validate, becomes a failed result with its reason instead of stopping the others.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.grid import MaskGrid, mask_grid
from .._core.labels import rank_classes
from .._core.occlusion import map_request, map_results
from .._core.options import DEFAULTS, FUNCTION, image_argument, occlusion_options
from .._core.predict import predict
from .._utils.namevalue import parse_name_value
from ..image._fit import fit_image
from ..network._base import Network
from .sources import ImageEntry, load_image

__all__ = ["ImageResult", "explain_images", "job_grid", "job_options", "map_shape"]


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
    request: Any = None
    error: str | None = None


def _top_class(scores: np.ndarray) -> tuple[int, float]:
    """The 1-based top-1 class and its probability from one image's output in MATLAB's layout;
    ``(0, NaN)`` when the output is not a class-score vector."""
    if scores.ndim != 2 or scores.shape[1] < 2:
        return 0, float("nan")
    ranking = rank_classes(scores, 1)
    return int(ranking.channels[0]), float(ranking.probabilities[0])


def _prepare(
    net: Network,
    index: int,
    entry: ImageEntry,
    channels: tuple[int, ...] | None,
    channel_order: str,
    options: dict[str, Any],
) -> _Prepared:
    item = _Prepared(index)
    try:
        fitted = fit_image(load_image(entry), net.InputSize, channel_order)  # type: ignore[arg-type]
        if channels is None:  # the map's channel is the prediction: one forward pass before the map
            scores = predict(net, fitted.pixels, ExecutionEnvironment=options.get("ExecutionEnvironment", "auto"))
            assert isinstance(scores, np.ndarray)  # one selected output
            item.predicted, item.score = _top_class(scores)
            item.classified = True
            if item.predicted == 0:
                raise ValueError(
                    f"output {net.OutputNames[0]!r} is not a class-score vector, so it has no "
                    f"predicted class; give channelIdx"
                )
            channels = (item.predicted,)
        item.channels = channels
        item.request = map_request(net, fitted.pixels, list(channels), **options)
    except (ValueError, TypeError) as error:
        item.error = str(error)
    return item


def explain_images(
    net: Network,
    items: Iterable[tuple[int, ImageEntry, tuple[int, ...] | None]],
    options: dict[str, Any],
    channel_order: str = "RGB",
) -> Iterator[ImageResult]:
    """Yield an :class:`ImageResult` for each ``(index, image, channels)`` in order.

    ``channels`` are 1-based, or None for the image's top-1 class; ``options`` are
    ``occlusionSensitivity``'s name-value options. Memory holds the stream's look-ahead only.
    With given channels, the prediction is read off the map's own pass of the unoccluded image.
    """
    pending: deque[_Prepared] = deque()

    def requests() -> Iterator[Any]:
        for index, entry, channels in items:
            item = _prepare(net, index, entry, channels, channel_order, options)
            pending.append(item)
            if item.error is None:
                yield item.request

    def failed(item: _Prepared) -> ImageResult:
        return ImageResult(item.index, None, item.channels, item.predicted, item.score, item.error)

    for result in map_results(net, requests()):
        while pending[0].error is not None:
            yield failed(pending.popleft())
        item = pending.popleft()
        if not item.classified:
            item.predicted, item.score = _top_class(result.reference)
        yield ImageResult(item.index, result.scoremap, item.channels, item.predicted, item.score)
    while pending:
        yield failed(pending.popleft())


def job_options(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``occlusionSensitivity``'s name-value options with their defaults, MATLAB names as keys
    (Verbose left out: a job shows its own progress)."""
    given = parse_name_value(FUNCTION, DEFAULTS, args, kwargs)
    return {name: value for name, value in given.items() if name != "Verbose"}


def job_grid(net: Network, options: dict[str, Any]) -> tuple[MaskGrid, bool]:
    """The mask grid every image of the job gets (it depends on the image size only), and whether
    maps are upsampled to the image; checks the options against the network first."""
    probe = image_argument(np.zeros(net.InputSize, np.float32), net.InputSize)
    resolved = occlusion_options(probe, (), options)
    grid = mask_grid(probe.shape[:2], resolved.mask_size, resolved.stride, resolved.mask_clipping)
    return grid, resolved.output_upsampling != "none"


def map_shape(net: Network, options: dict[str, Any], width: int) -> tuple[int, ...]:
    """The shape of every map of the job."""
    grid, upsampled = job_grid(net, options)
    size = net.InputSize[:2] if upsampled else grid.shape
    return (*size, width) if width > 1 else tuple(size)
