"""``occlusionSensitivity``: options -> grid -> streamed batches -> raw map -> upsampling.

Internally a map is a :class:`MapRequest` (validated, no inference yet), and
:func:`score_maps` computes any number of requests as one stream of occluded images, so that
the masks of consecutive small maps share batches (:func:`map_results` gives each map with the
network's output for the unoccluded image).
"""

from __future__ import annotations

import itertools
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from .._backends.engine import Engine
from .._incremental.policy import incremental_forward
from .._incremental.runner import IncrementalForward
from .._stream.drive import occluded_outputs
from .._stream.job import REFERENCE, OcclusionJob
from .._stream.sequence import ImageStream
from ..image._imresize import KERNEL_OF_METHOD, imresize, resized_axes
from ..network._base import Network
from .activations import channel_axis, channel_scores, to_matlab_layout
from .callforms import current_call_form
from .grid import MaskGrid, mask_grid
from .option_table import OCCLUSION, with_options
from .options import (
    FUNCTION,
    OcclusionOptions,
    channel_argument,
    check_channel_range,
    observation_argument,
    occlusion_options,
)

__all__ = [
    "MapRequest",
    "MapResult",
    "map_request",
    "map_results",
    "occlusionSensitivity",
    "occlusion_job",
    "score_maps",
]


@with_options(OCCLUSION)
def occlusionSensitivity(net: Network, X: Any, channelIdx: Any, *args: Any, **kwargs: Any) -> np.ndarray:
    """How much each region of ``X`` supports channels ``channelIdx`` of the network's output.

    A mask slides over the image; for each position the occluded image is run through the
    network, and the map holds the drop in the channel's total activation (its sum over every
    spatial or time axis) relative to the unoccluded image: the larger the value, the more the
    network relies on that region.

    MATLAB equivalent: ``occlusionSensitivity`` (Deep Learning Toolbox), with the same call,
    options, defaults and numbers (the rules: ``docs/specification.md``).

    Parameters
    ----------
    net : Network
        From :func:`importNetworkFromONNX` or :func:`importNetworkFromPyTorch`, with exactly
        one entry in ``net.OutputNames`` (the network's output, or any layer to measure).
    X : array_like
        One image, H×W×C (or H×W when C = 1) of exactly ``net.InputSize``, raw pixels of any
        real numeric type (converted to float32 first). Extension: a volume S1×S2×S3×C for a
        3-D network, a signal C×T (features × time steps) for a 1-D one.
    channelIdx : int or sequence of int
        1-based channel(s) of the selected output, as in MATLAB. Several give stacked maps
        from the same forward passes.
    {options}

    *args
        The options above as MATLAB name-value pairs (``"Stride", 10``), before or mixed with
        keywords; option names and string values are case-insensitive and may be abbreviated.
    **kwargs
        The options above as keywords (``Stride=10``).

    Returns
    -------
    scoreMap : ndarray of float32
        H×W (one channel) or H×W×n (one map per entry of ``channelIdx``, in its order);
        K_h×K_w(×n), one value per mask position, with ``OutputUpsampling="none"``.
        Extension: a volume's map is S1×S2×S3(×n), a signal's T (×n).

    Raises
    ------
    ValueError, TypeError
        Before any inference, for a bad argument: one line that names the MATLAB argument,
        what was expected and what was given.

    Warns
    -----
    MatlabCompatibilityNote
        For MATLAB's older call forms (see Notes).

    See Also
    --------
    importNetworkFromONNX, importNetworkFromPyTorch : The networks it measures.
    overlayScoreMap : The picture MATLAB draws of a map over its image.
    matlab_occsens.datasets.occlusionSensitivityMaps : The maps of many images.

    Notes
    -----
    The older MATLAB forms ``occlusionSensitivity(net, X, label)`` (class names from
    ``net.Classes``) and ``occlusionSensitivity(net, X, layerName, channelIdx)`` (measures that
    layer; ``net.OutputNames`` is left unchanged) also work, each with a
    :class:`MatlabCompatibilityNote` naming the recommended form.

    Examples
    --------
    MATLAB's documentation example on EfficientNet-Lite0, whose class 968 (1-based) is
    "espresso":

    >>> from skimage import data
    >>> from matlab_occsens import importNetworkFromONNX, imresize, occlusionSensitivity
    >>> from matlab_occsens.pretrained import EFFICIENTNET_LITE0
    >>> net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
    >>> X = imresize(data.coffee(), net.InputSize[:2])
    >>> scoreMap = occlusionSensitivity(net, X, 968)
    >>> scoreMap.shape, scoreMap.dtype
    ((224, 224), dtype('float32'))

    Options as keywords or MATLAB pairs; two channels from the same forward passes; one value
    per mask position, without upsampling. Hiding the cup (row 2, column 3 of the 4×4 grid)
    lowers "espresso" most:

    >>> maps = occlusionSensitivity(net, X, [968, 969], "Stride", 56, MaskSize=112, OutputUpsampling="none")
    >>> maps.shape
    (4, 4, 2)
    >>> divmod(int(maps[:, :, 0].argmax()), 4)  # (row, column), 0-based
    (1, 2)
    """
    _check_network(net)
    measured, channelIdx, args = current_call_form(net, channelIdx, args)
    return next(score_maps(measured, [_request(measured, X, channelIdx, args, kwargs)]))


@dataclass(frozen=True, eq=False)
class MapRequest:
    """One image's validated map request: everything :func:`score_maps` needs, no inference done.

    ``image`` is the observation channels last in float32, H×W×C, S1×S2×S3×C or T×C (as
    :func:`~matlab_occsens._core.options.observation_argument` gives it), ``channels`` the
    0-based channel indices (as
    :func:`~matlab_occsens._core.options.channel_argument` gives them).
    """

    image: np.ndarray
    channels: np.ndarray
    options: OcclusionOptions
    grid: MaskGrid


def map_request(net: Network, X: Any, channelIdx: Any, *args: Any, **kwargs: Any) -> MapRequest:
    """All of :func:`occlusionSensitivity`'s validation of one map, without inference.

    Takes the same arguments. The older layer form ``(net, X, layerName, channelIdx)`` measures
    another output than ``net``'s and is refused here: set ``net.OutputNames`` instead.
    """
    _check_network(net)
    measured, channelIdx, args = current_call_form(net, channelIdx, args)
    if measured is not net:
        raise ValueError(
            f"{FUNCTION}: a map request measures net.OutputNames; for layer {measured.OutputNames[0]!r} "
            f"set net.OutputNames = [{measured.OutputNames[0]!r}] instead of naming the layer in the call."
        )
    return _request(net, X, channelIdx, args, kwargs)


def _check_network(net: Any) -> None:
    if not isinstance(net, Network):
        raise TypeError(
            f"{FUNCTION}: net must be a network object from importNetworkFromONNX or "
            f"importNetworkFromPyTorch; got {type(net).__name__}."
        )


def _request(net: Network, X: Any, channelIdx: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> MapRequest:
    """The validated request for the network to measure, in the current call form."""
    _check_one_output(net)
    image = observation_argument(X, net.InputSize, net.InputDataFormats)
    net.warn_pixel_range(image, FUNCTION)
    output_name = net.OutputNames[0]
    channels = channel_argument(channelIdx, net.output_channels(output_name), output_name)
    options = occlusion_options(image, args, kwargs)
    grid = mask_grid(image.shape[:-1], options.mask_size, options.stride, options.mask_clipping)
    return MapRequest(image, channels, options, grid)


def _check_one_output(net: Network) -> None:
    if len(net.OutputNames) != 1:
        raise ValueError(
            f"{FUNCTION}: the network has {len(net.OutputNames)} selected outputs "
            f"({', '.join(net.OutputNames)}); set net.OutputNames to the one to measure."
        )


@dataclass(frozen=True, eq=False)
class MapResult:
    """A finished map and the network's output for the unoccluded image, which every map
    computes as its reference (so the image's prediction costs no forward pass of its own)."""

    scoremap: np.ndarray
    """Upsampled, float32, as :func:`occlusionSensitivity` returns it."""
    reference: np.ndarray
    """The selected output for the unoccluded image in MATLAB's layout (1×C for class scores)."""


def score_maps(net: Network, requests: Iterable[MapRequest]) -> Iterator[np.ndarray]:
    """The finished map of each request, in request order: :func:`map_results` without the
    references."""
    for result in map_results(net, requests):
        yield result.scoremap


def map_results(net: Network, requests: Iterable[MapRequest]) -> Iterator[MapResult]:
    """The finished map (upsampled, float32) of each request, with its reference output, in
    request order, each as soon as its last forward pass is done.

    The occluded images of consecutive requests form one stream: a batch may hold the end of one
    image's masks and the start of the next one's. Requests share a stream while they agree on
    what shapes a batch (ExecutionEnvironment, MiniBatchSize, Incremental); a request that
    differs starts a new stream after the previous one's maps. A request that the incremental
    path takes runs on its own, in its place in the order. ``requests`` may be a lazy iterable of
    any length: memory holds a few batches and the raw maps in flight. Progress (Verbose) follows
    each stream's first request.
    """
    _check_one_output(net)
    for _, group in itertools.groupby(requests, key=_stream_key):
        yield from _stream_maps(net, group)


def _stream_key(request: MapRequest) -> tuple[str, int, str]:
    options = request.options
    return options.execution_environment, options.mini_batch_size, options.incremental


class _MapInProgress:
    """One request's channel totals as its images' outputs arrive (row 0: the reference)."""

    def __init__(self, net: Network, request: MapRequest, job: OcclusionJob) -> None:
        self.net, self.request, self.job = net, request, job
        self.wanted, self.position = np.unique(request.channels, return_inverse=True)
        self.totals = np.empty((len(job), len(self.wanted)))
        self.done = 0
        self._fmt: str | None = None  # the output's layout, read off the first output
        self._reference: np.ndarray | None = None

    def add(self, first: int, output: np.ndarray) -> None:
        """The outputs of images ``first..first + len(output) - 1`` of the job."""
        name = self.net.OutputNames[0]
        if self._fmt is None:
            self._fmt = self.net.output_format(name, output.ndim)
            check_channel_range(self.request.channels + 1, output.shape[channel_axis(self._fmt, name)], name)
        if first == REFERENCE and self.request.options.reduction_fcn is not None:
            # A ReductionFcn is tried on the unoccluded input alone first: a function that cannot
            # score it is refused before any occluded image is scored.
            self.totals[0] = self._scores(output[:1], "the unoccluded input")[0]
            self.totals[1 : len(output)] = self._scores(output[1:], "occluded inputs")
        else:
            self.totals[first : first + len(output)] = self._scores(output, "occluded inputs")
        if first == REFERENCE:
            self._reference = np.array(to_matlab_layout(output[:1], self._fmt))  # a copy, not a view of the batch
        self.done += len(output)

    def _scores(self, output: np.ndarray, inputs: str) -> np.ndarray:
        assert self._fmt is not None  # read off the first output
        options = self.request.options
        return channel_scores(output, self._fmt, self.wanted, self.net.OutputNames[0], options.reduction_fcn, inputs)

    @property
    def complete(self) -> bool:
        return self.done == len(self.job)

    def finished(self) -> MapResult:
        """The upsampled map: the drop of each mask's totals from the reference's."""
        reference, occluded = self.totals[0], self.totals[1:]
        grid = self.request.grid
        raw = (reference - occluded)[:, self.position].reshape(*grid.shape, len(self.request.channels))
        size, method = self.request.image.shape[:-1], self.request.options.output_upsampling
        scoremap = _upsampled(raw.astype(np.float32), size, method)
        assert self._reference is not None  # every job's image 0
        return MapResult(scoremap, self._reference)


def occlusion_job(net: Network, request: MapRequest, batch_size: int) -> OcclusionJob:
    """The request's forward passes: its normalised image and fill in the backend's layout."""
    image = request.image
    base = net.prepare(image[np.newaxis])
    fill = net.prepare(np.broadcast_to(request.options.mask_value.astype(np.float32), image.shape)[np.newaxis])
    return OcclusionJob(base, fill, request.grid, net.InputDataFormats, batch_size)


def _stream_maps(net: Network, requests: Iterator[MapRequest]) -> Iterator[MapResult]:
    """The maps of requests that agree on the stream key, in order."""
    first = next(requests)
    options = first.options
    engine = net.engine(options.execution_environment)
    limit = min(options.mini_batch_size, engine.max_batch or options.mini_batch_size)
    with tqdm(total=0, unit="mask", desc=FUNCTION, disable=not options.verbose, delay=1.0, file=sys.stderr) as progress:
        for incremental, run in itertools.groupby(
            _with_forwards(net, engine, itertools.chain([first], requests), limit), key=lambda item: item[1] is not None
        ):
            if incremental:
                for request, forward in run:
                    yield _incremental_map(net, request, forward, limit, progress)  # type: ignore[arg-type]
                continue
            yield from _shared_stream(net, engine, (request for request, _ in run), limit, progress)


def _with_forwards(
    net: Network, engine: Engine, requests: Iterable[MapRequest], limit: int
) -> Iterator[tuple[MapRequest, IncrementalForward | None]]:
    """Each request with its incremental forward passes, or None for the shared stream."""
    for request in requests:
        batch_size = min(limit, len(request.grid) + 1)
        yield request, incremental_forward(net, engine, request.grid, request.options.incremental, batch_size, FUNCTION)


def _incremental_map(
    net: Network, request: MapRequest, forward: IncrementalForward, limit: int, progress: tqdm
) -> MapResult:
    job = occlusion_job(net, request, limit)
    state = _MapInProgress(net, request, job)
    progress.total += len(request.grid)
    for first, output in forward.images(job):
        state.add(first, output)
        progress.update(len(output) - (first == 0))  # masks done: image 0 is unoccluded
    return state.finished()


def _shared_stream(
    net: Network,
    engine: Engine,
    requests: Iterator[MapRequest],
    limit: int,
    progress: tqdm,
) -> Iterator[MapResult]:
    """The maps of requests whose images share one stream of batches."""
    maps: deque[_MapInProgress] = deque()  # the requests the stream has taken and not finished

    def jobs() -> Iterator[OcclusionJob]:
        for request in requests:
            job = occlusion_job(net, request, limit)
            maps.append(_MapInProgress(net, request, job))
            progress.total += len(request.grid)
            yield job

    served = 0  # maps yielded; maps[serial - served] is job ``serial``'s
    for batch, output in occluded_outputs(engine, ImageStream(jobs(), limit), net.InputDataFormats):
        for part in batch.parts:
            state = maps[part.serial - served]
            state.add(part.first, output[part.slot : part.slot + len(part)])
            progress.update(len(part) - (part.first == 0))
        while maps and maps[0].complete:
            served += 1
            yield maps.popleft().finished()


def _upsampled(raw: np.ndarray, size: tuple[int, ...], method: str) -> np.ndarray:
    """Resize the K_1×...×K_k×n map to the input's spatial size (× n): an image's with MATLAB's
    imresize, a volume's and a signal's axis by axis with its kernels (imresize3's "cubic" or
    "nearest"); drop a single channel axis."""
    if method == "none":
        resized = raw
    elif len(size) == 2:
        resized = imresize(raw, list(size), method)
    else:
        scale = [side / length for side, length in zip(size, raw.shape)]
        resized = resized_axes(raw, size, scale, KERNEL_OF_METHOD[method], method != "nearest")
    return resized[..., 0] if resized.shape[-1] == 1 else resized
