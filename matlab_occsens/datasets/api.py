"""The dataset functions as a Python user calls them (extensions: MATLAB has no dataset call;
a MATLAB script loops over ``occlusionSensitivity`` instead)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._core.options import FUNCTION
from ..network._base import Network

if TYPE_CHECKING:
    from .job import JobSummary
from .channels import channel_plan
from .explain import explain_images, job_options, map_shape
from .network import built_network, describe_network
from .sources import image_list
from .worker_start import start_local_workers_early

__all__ = ["occlusionSensitivityDataset", "occlusionSensitivityMaps"]


def occlusionSensitivityMaps(
    net: Network, images: Any, channelIdx: Any, *args: Any, ChannelOrder: str = "RGB", **kwargs: Any
) -> Iterator[np.ndarray]:
    """Extension: the map of every image, one at a time in input order, in this process.

    The same as ``[occlusionSensitivity(net, X, channelIdx, ...) for X in images]`` with each image
    fitted to ``net.InputSize`` first (MATLAB's ``imresize``), but lazily (memory holds a few
    batches whatever the number of images) and with the masks of several images sharing batches.

    Parameters
    ----------
    net : Network
    images : imageDatastore, path, folder, wildcard, list of them, H×W×C×N array, or list of arrays
    channelIdx : int, vector, N×n array, list of N vectors, "predicted" or "labels"
        One choice for every image, one row per image, each image's top-1 class, or each image's
        datastore label looked up in ``net.Classes``.
    ChannelOrder : {"RGB", "BGR"}, default "RGB"
        The channel order the network was trained on.
    **kwargs
        ``occlusionSensitivity``'s options (MaskSize, Stride, ...).

    Raises
    ------
    ValueError
        At the position of an image that cannot be read or fitted (use
        :func:`occlusionSensitivityDataset` to record such images and carry on).
    """
    listed = image_list(images)
    options = job_options(args, kwargs)
    plan = channel_plan(channelIdx, len(listed), net.output_channels(net.OutputNames[0]), listed.labels, net.Classes)
    map_shape(net, options, plan.width)  # every option checked before the first image
    items = ((index, entry, plan.of(index)) for index, entry in enumerate(listed.entries))
    for result in explain_images(net, items, options, ChannelOrder):
        if result.failed:
            raise ValueError(f"{FUNCTION}: image {result.index + 1} ({listed.names[result.index]}): {result.error}")
        assert result.scoremap is not None
        yield result.scoremap


def occlusionSensitivityDataset(
    net: Network | str | os.PathLike | bytes,
    images: Any,
    channelIdx: Any,
    *args: Any,
    out: str | os.PathLike,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    restart: bool = False,
    progress: bool = True,
    import_options: dict[str, Any] | None = None,
    classes: list[str] | None = None,
    ChannelOrder: str = "RGB",
    **kwargs: Any,
) -> JobSummary:
    """Extension: the maps of every image into a Zarr store in ``out``, on a Dask cluster.

    Workers (local processes, or those of ``scheduler``/``client``) build the network once each
    and write their maps straight into ``out/occlusion.zarr``; rerunning resumes; an image that
    cannot be read is recorded as failed with its reason and the rest completes.

    Parameters
    ----------
    net : Network, or an ONNX file path or its bytes
        A file travels as its path (workers read it: the path must be visible to them); use
        ``import_options`` for :func:`importNetworkFromONNX`'s options.
    images, channelIdx, ChannelOrder, **kwargs
        As for :func:`occlusionSensitivityMaps`.
    out : path
        The folder of the store.
    workers : int, optional
        Local worker processes (default: one per physical core, each pinned to its core);
        0 computes in this process.
    scheduler : str, optional
        Address of an existing Dask scheduler (``"tcp://host:8786"``) instead of local workers.
    client : distributed.Client, optional
        An existing client instead.
    restart : bool, default False
        Start an existing store for another job over instead of refusing it.
    progress : bool, default True
        A progress bar over images on stderr.

    Returns
    -------
    JobSummary
        The store's path, images computed, skipped (already complete) and failed (with reasons).
    """
    from .job import run_job  # Dask and Zarr: the [datasets] extra

    start_local_workers_early(workers, scheduler, client)
    description = describe_network(net, **(import_options or {}), channel_order=ChannelOrder)
    listed = image_list(images)
    built = built_network(description)
    options = job_options(args, kwargs)
    names = classes if classes is not None else built.Classes
    plan = channel_plan(channelIdx, len(listed), built.output_channels(built.OutputNames[0]), listed.labels, names)
    return run_job(
        description,
        listed,
        plan,
        options,
        Path(out),
        workers=workers,
        scheduler=scheduler,
        client=client,
        restart=restart,
        progress=progress,
    )
