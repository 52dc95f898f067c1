"""The dataset form of the command: ``matlab-occsens MODEL IMAGE [IMAGE ...] --out DIR``.

With more than one image, or a folder or wildcard, the command runs a dataset job into one store
in DIR instead of writing one image's files; for a volume or signal network the items are
volumes or signals (docs/specification.md §9.9). The single-image flags keep their meaning; the
flags added here say where the work runs and what pictures to draw.
"""

from __future__ import annotations

import argparse
import glob
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_dataset_flags", "is_dataset", "run_dataset"]


def is_dataset(images: list[str]) -> bool:
    """More than one image, or a folder or wildcard: a dataset job. A name that exists is that
    file, even with wildcard characters in it (``a[1].png``)."""
    return len(images) > 1 or any(
        os.path.isdir(image) or (glob.has_magic(image) and not os.path.exists(image)) for image in images
    )


def _worker_count(word: str) -> int:
    """``--workers``: 0 or more."""
    try:
        count = int(word)
    except ValueError:
        count = -1
    if count < 0:
        raise argparse.ArgumentTypeError(f"expected 0 (this process) or more worker processes; got {word!r}")
    return count


def add_dataset_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("datasets (several images, a folder or a wildcard: one Zarr store in --out)")
    group.add_argument(
        "--per-image",
        choices=("predicted", "labels"),
        help="channels per image instead of --channel: each image's top-1 class (the default "
        "without --channel or --label), or its folder name looked up in --classes",
    )
    group.add_argument(
        "--workers",
        type=_worker_count,
        metavar="K",
        help="local worker processes, each pinned to its cores (default: one per physical core; 0: in this process)",
    )
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on an existing Dask cluster (tcp://host:8786); it must answer within 10 s and have a worker "
        "within 20 s",
    )
    group.add_argument(
        "--restart",
        action="store_true",
        help="start over the store in --out (one that holds another job, or is damaged); a folder that is not a "
        "store is never deleted",
    )
    group.add_argument(
        "--overlays",
        action="store_true",
        help="also write one overlay PNG per image and channel (a montage per volume, a plot per signal; a NIfTI "
        "volume's map also as NIfTI on its own grid)",
    )
    group.add_argument(
        "--overview",
        action="store_true",
        help="also write overview.png: a sheet of the overlays with each image's class and score",
    )
    group.add_argument(
        "--mat", action="store_true", help="also write occlusion.mat for MATLAB's load (v7.3 when large)"
    )


def run_dataset(
    args: argparse.Namespace,
    import_options: dict[str, Any],
    occlusion_kwargs: dict[str, Any],
    channels: list[int] | None,
    classes: list[str] | None,
    say: Callable[[str], None],
    result: Callable[[str], None],
    alert: Callable[[str], None],
    progress: bool,
) -> int:
    """Run the job; exit status 0, or 1 when some images failed (they are listed, even with
    --quiet: ``alert`` is never silenced). Images are named by their index in the store, from 0."""
    from .._backends.cpu import physical_cores
    from ._cluster import ClusterProcess  # Zarr and Dask are the [datasets] extra: imported only when used

    local = args.scheduler is None and args.workers != 0
    early = ClusterProcess(args.workers or physical_cores()) if local else None  # starts while the model is read
    try:
        return _run(args, import_options, occlusion_kwargs, channels, classes, say, result, alert, progress, early)
    finally:
        if early is not None:
            early.close()


def _run(
    args: argparse.Namespace,
    import_options: dict[str, Any],
    occlusion_kwargs: dict[str, Any],
    channels: list[int] | None,
    classes: list[str] | None,
    say: Callable[[str], None],
    result: Callable[[str], None],
    alert: Callable[[str], None],
    progress: bool,
    early: Any,
) -> int:
    from ._channels import LABELS, PREDICTED, channel_plan
    from ._datastore import imageDatastore
    from ._explain import job_options
    from ._export import storeToMat
    from ._job import run_job
    from ._kinds import check_channel_order_flag, job_kind, listed_extensions
    from ._network import built_network, describe_network
    from ._pictures import write_overlays, write_overview
    from ._sources import image_list
    from ._store import MapStore

    given_output = getattr(args, "OutputNames", None)
    output_names = None if given_output is None else [given_output]
    description = describe_network(
        args.model, output_names=output_names, channel_order=args.channel_order or "RGB", **import_options
    )
    net = built_network(description)
    if len(net.OutputNames) != 1:
        raise ValueError(
            f"the network has {len(net.OutputNames)} outputs ({', '.join(net.OutputNames)}); "
            f"choose one with --output-names."
        )
    kind = job_kind(net)
    check_channel_order_flag(args.channel_order, kind, args.model)
    source: Any = list(args.image)
    if args.per_image == LABELS:  # each image's folder names its label
        source = imageDatastore(source, LabelSource="foldernames", FileExtensions=listed_extensions(kind))
    images = image_list(source, kind, net.InputDataFormats)
    options = job_options(net, (), occlusion_kwargs, args.max_image_bytes)
    plan = channel_plan(
        (args.per_image or PREDICTED) if channels is None else channels,
        len(images),
        net.output_channels(net.OutputNames[0]),
        images.labels,
        classes,
    )
    say(f"{len(images)} {kind}s into {Path(args.out) / 'occlusion.zarr'}")
    summary = run_job(
        description,
        images,
        plan,
        options,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        restart=args.restart,
        progress=progress,
        cluster=early,
    )
    for note in summary.notes:
        say(note)
    for index, reason in summary.damaged.items():
        alert(f"{kind} {index} ({images.names[index]}) was complete but {reason}; computed again")
    for index in summary.changed:
        alert(f"{kind} {index} ({images.names[index]}) changed since its map was computed; computed again")
    if summary.skipped:
        say(f"resumed: {summary.skipped} of {summary.total} {kind}s were already complete")
    result(
        f"wrote {summary.store} ({summary.computed} maps computed, {summary.skipped} already there, "
        f"{len(summary.failures)} failed)"
    )
    store = MapStore.for_reading(summary.store)
    out = Path(args.out)
    if args.overlays:
        upsampling = options.resolved.output_upsampling
        for path in write_overlays(
            store, images.entries, images.names, net.InputSize, out / "overlays", args.max_image_bytes, upsampling
        ):
            result(f"wrote {path}")
    if args.overview:
        target = out / "overview.png"
        sheet = write_overview(store, images.entries, net.InputSize, classes, target, args.max_image_bytes)
        result(f"wrote {sheet}")
    if args.mat:
        result(f"wrote {storeToMat(args.out, out / 'occlusion.mat')}")
    for index, reason in sorted(summary.failures.items()):
        alert(f"failed: {kind} {index} ({images.names[index]}): {reason}")
    return 1 if summary.failures else 0
