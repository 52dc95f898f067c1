"""``occlusionSensitivity``: options -> grid -> streamed batches -> raw map -> upsampling."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from tqdm import tqdm

from .activations import channel_axis, channel_totals
from .callforms import current_call_form
from .grid import MaskGrid, mask_grid
from .imresize import imresize
from .incremental import occluded_outputs
from .network.base import Network
from .stream.job import OcclusionJob
from .options import (
    FUNCTION,
    OcclusionOptions,
    channel_argument,
    check_channel_range,
    image_argument,
    occlusion_options,
)

__all__ = ["occlusionSensitivity"]


def occlusionSensitivity(net: Network, X: Any, channelIdx: Any, *args: Any, **kwargs: Any) -> np.ndarray:
    """How much each region of ``X`` supports channels ``channelIdx`` of the network's output.

    A mask slides over the image; for each position the occluded image is run through the
    network, and the map holds the drop in the channel's total activation (its sum over every
    spatial or time axis) relative to the unoccluded image. Same call, options, defaults and
    numbers as MATLAB's Deep Learning Toolbox function.

    Parameters
    ----------
    net : Network
        From :func:`importNetworkFromONNX` or :func:`importNetworkFromPyTorch`, with exactly
        one entry in ``net.OutputNames``.
    X : array_like
        One image, H×W×C (or H×W when C = 1) of exactly ``net.InputSize``, raw pixels of any
        real numeric type (converted to float32 first).
    channelIdx : int or sequence of int
        1-based channel(s) of the selected output, as in MATLAB. Several give stacked maps
        from the same forward passes.
    MaskSize : "auto", int or [h w], default "auto"
        Occluding mask size; "auto" is round(0.2 * [H W]).
    Stride : "auto", int or [a b], default "auto"
        Step between mask positions, vertical then horizontal; "auto" is round(0.1 * [H W]).
    MaskValue : "auto", float or C values, default "auto"
        Fill value per channel; "auto" is the channel mean of X.
    OutputUpsampling : {"bicubic", "nearest", "none"}, default "bicubic"
        "none" returns one value per mask position; otherwise the map is resized to H×W
        with MATLAB's :func:`imresize`.
    MaskClipping : {"on", "off"} or bool, default "on"
        "on": mask centres start on the first pixel and masks are cut at the border;
        "off": masks start at the first pixel and only masks that fit entirely are used.
    MiniBatchSize : int, default 128
        Most occluded images per forward call (speed and memory only); on a CPU the network
        runs at the fastest batch size up to this, measured once per network.
    ExecutionEnvironment : {"auto", "cpu", "gpu"}, default "auto"
        Where the network runs; "auto" uses a GPU when the backend can.
    Verbose : bool, default False
        Extension: show a progress bar on stderr for maps that take more than a second.
    Incremental : {"auto", "on", "off"} or bool, default "auto"
        Extension (not in MATLAB): recompute, for each mask, only the activations the mask can
        change (:mod:`matlab_occsens.incremental`); same map up to float rounding. "auto" uses
        it where it is predicted faster (ONNX networks on the CPU); "on" uses it wherever the
        graph allows and otherwise warns and runs the ordinary forward passes.

    Options are keywords (``Stride=10``) or MATLAB pairs (``"Stride", 10``); names and string
    values are case-insensitive and may be abbreviated.

    The older MATLAB forms ``occlusionSensitivity(net, X, label)`` (class names from
    ``net.Classes``) and ``occlusionSensitivity(net, X, layerName, channelIdx)`` (measures that
    layer; ``net.OutputNames`` is left unchanged) also work, each with a
    :class:`~matlab_occsens.callforms.MatlabCompatibilityNote` naming the recommended form.

    Returns
    -------
    scoreMap : ndarray of float32
        H×W (one channel) or H×W×n; K_h×K_w(×n) with ``OutputUpsampling="none"``.

    Examples
    --------
    >>> scoreMap = occlusionSensitivity(net, X, 968)                    # doctest: +SKIP
    >>> scoreMap = occlusionSensitivity(net, X, [968, 505], "Stride", 10, MaskSize=30)  # doctest: +SKIP
    """
    if not isinstance(net, Network):
        raise TypeError(
            f"{FUNCTION}: net must be a network object from importNetworkFromONNX or "
            f"importNetworkFromPyTorch; got {type(net).__name__}."
        )
    net, channelIdx, args = current_call_form(net, channelIdx, args)
    if len(net.OutputNames) != 1:
        raise ValueError(
            f"{FUNCTION}: the network has {len(net.OutputNames)} selected outputs "
            f"({', '.join(net.OutputNames)}); set net.OutputNames to the one to measure."
        )
    image = image_argument(X, net.InputSize)
    output_name = net.OutputNames[0]
    channels = channel_argument(channelIdx, net.output_channels(output_name), output_name)
    options = occlusion_options(image, args, kwargs)
    grid = mask_grid(image.shape[:2], options.mask_size, options.stride, options.mask_clipping)
    raw = _raw_map(net, image, channels, options, grid)
    return _upsampled(raw, image.shape[:2], options.output_upsampling)


def _raw_map(
    net: Network, image: np.ndarray, channels: np.ndarray, options: OcclusionOptions, grid: MaskGrid
) -> np.ndarray:
    """Total-activation drop per mask position: K_h × K_w × len(channels), float32."""
    engine = net.engine(options.execution_environment)
    output_name = net.OutputNames[0]
    wanted, position = np.unique(channels, return_inverse=True)
    base = net.prepare(image[np.newaxis])
    fill = net.prepare(np.broadcast_to(options.mask_value.astype(np.float32), image.shape)[np.newaxis])
    batch_size = min(options.mini_batch_size, len(grid) + 1, engine.max_batch or len(grid) + 1)
    job = OcclusionJob(base, fill, grid, net.InputDataFormats, batch_size)
    outputs = occluded_outputs(net, engine, job, options.incremental, FUNCTION)

    totals = np.empty((len(grid) + 1, len(wanted)))  # row 0: the unoccluded image
    fmt: str | None = None  # the output's layout, read off the first batch
    with tqdm(
        total=len(grid), unit="mask", desc=FUNCTION, disable=not options.verbose, delay=1.0, file=sys.stderr
    ) as progress:
        for first, output in outputs:
            if fmt is None:
                fmt = net.output_format(output_name, output.ndim)
                check_channel_range(channels + 1, output.shape[channel_axis(fmt, output_name)], output_name)
            totals[first : first + len(output)] = channel_totals(output, fmt, wanted, output_name)
            progress.update(len(output) - (first == 0))  # masks done: image 0 is unoccluded
    reference, occluded = totals[0], totals[1:]
    drop = (reference - occluded)[:, position]
    return drop.reshape(*grid.shape, len(channels)).astype(np.float32)


def _upsampled(raw: np.ndarray, size: tuple[int, int], method: str) -> np.ndarray:
    """Resize the K_h×K_w×n map to H×W×n with MATLAB's imresize; drop a single channel axis."""
    resized = raw if method == "none" else imresize(raw, list(size), method)
    return resized[..., 0] if resized.shape[2] == 1 else resized
