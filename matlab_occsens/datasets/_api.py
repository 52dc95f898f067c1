"""The dataset functions as a Python user calls them (extensions: MATLAB has no dataset call;
a MATLAB script loops over ``occlusionSensitivity`` instead)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._backends.cpu import physical_cores
from .._core.options import FUNCTION
from ..image._imageio import MAX_IMAGE_BYTES
from ..network._base import Network

if TYPE_CHECKING:
    from ._job import JobSummary
from ._channels import channel_plan
from ._explain import explain_images, job_options
from ._kinds import check_channel_order, job_kind
from ._network import built_network, describe_network
from ._sources import image_list

__all__ = ["occlusionSensitivityDataset", "occlusionSensitivityMaps"]


def occlusionSensitivityMaps(
    net: Network,
    images: Any,
    channelIdx: Any,
    *args: Any,
    ChannelOrder: str = "RGB",
    MaxImageBytes: float | None = MAX_IMAGE_BYTES,
    **kwargs: Any,
) -> Iterator[np.ndarray]:
    """The map of every image, one at a time in input order, in this process.

    The same as ``[occlusionSensitivity(net, X, channelIdx, ...) for X in images]`` with each image
    fitted to ``net.InputSize`` first (MATLAB's ``imresize``), but lazily (memory holds a few
    batches whatever the number of images) and with the masks of several images sharing batches.

    Extension: MATLAB has no dataset call; a MATLAB script loops over ``occlusionSensitivity``.

    Parameters
    ----------
    net : Network
        From :func:`~matlab_occsens.importNetworkFromONNX` or
        :func:`~matlab_occsens.importNetworkFromPyTorch`.
    images : ImageDatastore, path, folder, wildcard, list of them, H×W×C×N array, or list of arrays
        Images of another size than ``net.InputSize`` are resized with MATLAB's ``imresize``;
        gray images are repeated into three channels. Extension: for a volume network, volumes
        (``.npy``, NIfTI ``.nii``/``.nii.gz``, S1×S2×S3(×C) arrays or an S1×S2×S3×C×N stack),
        resized with ``imresize3``; for a signal network, signals (``.npy``, ``.csv``, C×T arrays
        or a C×T×N stack) of the network's length. A folder lists the files of the network's kind.
    channelIdx : int, vector, N×n array, list of N vectors, "predicted" or "labels"
        One choice for every image, one row per image, each image's top-1 class, or each image's
        datastore label looked up in ``net.Classes``.
    *args
        ``occlusionSensitivity``'s options as MATLAB name-value pairs (``"Stride", 10``).
    ChannelOrder : {"RGB", "BGR"}, default "RGB"
        The channel order the network was trained on.
    MaxImageBytes : float or None, default 256 MiB
        :func:`imread`'s limit for every file: a file that would decode to more is refused from
        its header; None reads any (GIF files, whose size is not read from the header, need it).
    **kwargs
        ``occlusionSensitivity``'s options (MaskSize, Stride, ...), checked once for all images
        before the first is read.

    Yields
    ------
    scoreMap : ndarray of float32
        Each image's map, as :func:`~matlab_occsens.occlusionSensitivity` returns it, in the
        order of ``images`` (a volume's S1×S2×S3(×n), a signal's T(×n)).

    Raises
    ------
    ValueError
        At the position of an image that cannot be read or fitted, naming it by its position
        (from 0) in ``images`` (use :func:`occlusionSensitivityDataset` to record such images and
        carry on).

    See Also
    --------
    occlusionSensitivityDataset : The same maps on many cores or machines, into a store.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skimage import data
    >>> from matlab_occsens import imwrite
    >>> folder = Path(tempfile.mkdtemp())
    >>> for label, name in [("cats", "chelsea"), ("cups", "coffee"), ("people", "astronaut")]:
    ...     (folder / "photos" / label).mkdir(parents=True)
    ...     imwrite(getattr(data, name)(), folder / "photos" / label / f"{name}.png")
    >>> from matlab_occsens import importNetworkFromONNX
    >>> from matlab_occsens.datasets import imageDatastore, occlusionSensitivityMaps
    >>> from matlab_occsens.pretrained import EFFICIENTNET_LITE0
    >>> net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
    >>> imds = imageDatastore(folder / "photos", IncludeSubfolders=True)
    >>> for file, scoreMap in zip(imds.Files, occlusionSensitivityMaps(net, imds, "predicted", Stride=56)):
    ...     print(Path(file).name, scoreMap.shape)
    chelsea.png (224, 224)
    coffee.png (224, 224)
    astronaut.png (224, 224)
    """
    kind = job_kind(net)
    check_channel_order(kind, ChannelOrder)
    listed = image_list(images, kind, net.InputDataFormats)
    options = job_options(net, args, kwargs, MaxImageBytes)
    plan = channel_plan(channelIdx, len(listed), net.output_channels(net.OutputNames[0]), listed.labels, net.Classes)
    items = ((index, entry, plan.of(index)) for index, entry in enumerate(listed.entries))
    for result in explain_images(net, items, options, ChannelOrder):
        if result.failed:
            raise ValueError(f"{FUNCTION}: {kind} {result.index} ({listed.names[result.index]}): {result.error}")
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
    MaxImageBytes: float | None = MAX_IMAGE_BYTES,
    **kwargs: Any,
) -> JobSummary:
    """The maps of every image into a Zarr store in ``out``, on every core or a Dask cluster.

    Workers (local processes, or those of ``scheduler``/``client``) build the network once each
    and write their maps straight into ``out/occlusion.zarr``; rerunning resumes (completed images
    whose stored chunks are damaged, or whose file changed, are computed again); an image that
    cannot be read, or whose worker dies twice computing it, is recorded as failed with its
    reason and the rest completes. One run writes a store at a time: another is refused.

    Works in a plain script (no ``if __name__ == "__main__":`` needed) and in a notebook: local
    workers run in a process of their own.

    Extension: MATLAB has no dataset call; a MATLAB script runs ``occlusionSensitivity`` in a
    ``parfor`` loop and saves the maps itself.

    Parameters
    ----------
    net : Network, or an ONNX file path or its bytes
        A file travels as its path (workers read it: the path must be visible to them); use
        ``import_options`` for :func:`~matlab_occsens.importNetworkFromONNX`'s options.
    images, channelIdx, *args, ChannelOrder, MaxImageBytes, **kwargs
        As for :func:`occlusionSensitivityMaps`.
    out : path
        The folder of the store.
    workers : int, optional
        Local worker processes (default: one per physical core, each pinned to its core);
        0 computes in this process.
    scheduler : str, optional
        Address of an existing Dask scheduler (``"tcp://host:8786"``) instead of local workers;
        it must answer within 10 s and have a worker within 20 s.
    client : distributed.Client, optional
        An existing client instead.
    restart : bool, default False
        Start an existing store for another job over instead of refusing it.
    progress : bool, default True
        A progress bar over images on stderr.
    import_options : dict, optional
        :func:`~matlab_occsens.importNetworkFromONNX`'s options for a network given as a file.
    classes : list of str, optional
        Class names for ``channelIdx="labels"``, instead of ``net.Classes``.

    Returns
    -------
    JobSummary
        The store's path, images computed, skipped (already complete), failed (with reasons) and
        computed again (damaged or changed), each image by its index (from 0) in the store.

    See Also
    --------
    occlusionSensitivityMaps : The same maps in this process, one at a time.
    storeToMat : The store as a MAT-file for MATLAB.

    Examples
    --------
    The images' top classes explained on this machine's cores, into ``results/occlusion.zarr``;
    run again, it finds every image done:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from skimage import data
    >>> from matlab_occsens import imwrite
    >>> folder = Path(tempfile.mkdtemp())
    >>> for label, name in [("cats", "chelsea"), ("cups", "coffee"), ("people", "astronaut")]:
    ...     (folder / "photos" / label).mkdir(parents=True)
    ...     imwrite(getattr(data, name)(), folder / "photos" / label / f"{name}.png")
    >>> from matlab_occsens.datasets import occlusionSensitivityDataset
    >>> from matlab_occsens.pretrained import EFFICIENTNET_LITE0
    >>> model, photos = EFFICIENTNET_LITE0.onnx_path(), folder / "photos/*/*.png"
    >>> job = dict(out=folder / "results", import_options=EFFICIENTNET_LITE0.normalization(), progress=False)
    >>> summary = occlusionSensitivityDataset(model, photos, "predicted", **job)
    >>> summary.computed, summary.skipped, summary.failures
    (3, 0, {})
    >>> occlusionSensitivityDataset(model, photos, "predicted", **job).skipped
    3

    The store holds each map and each image's predicted class (1-based):

    >>> import zarr
    >>> store = zarr.open_group(summary.store, mode="r")
    >>> store["maps"].shape, store["predicted"][:].tolist()
    ((3, 224, 224), [286, 968, 451])
    """
    from ._cluster import ClusterProcess  # Dask and Zarr: the [datasets] extra
    from ._job import check_workers, run_job

    workers = check_workers(workers)
    # local workers start now, in a process of their own, while the model is read here
    early = (
        ClusterProcess(workers or physical_cores()) if client is None and scheduler is None and workers != 0 else None
    )
    try:
        description = describe_network(net, **(import_options or {}), channel_order=ChannelOrder)
        built = built_network(description)
        check_channel_order(job_kind(built), ChannelOrder)
        listed = image_list(images, job_kind(built), built.InputDataFormats)
        options = job_options(built, args, kwargs, MaxImageBytes)
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
            cluster=early,
        )
    finally:
        if early is not None:
            early.close()  # not used (nothing to compute, or an error): no work to lose
