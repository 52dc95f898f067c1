"""The dataset form of the command: ``matlab-occsens MODEL IMAGE [IMAGE ...] --out DIR``.

With more than one image, or a folder or wildcard, the command runs a dataset job into one store
in DIR instead of writing one image's files. The single-image flags keep their meaning; the
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
    """More than one image, or a folder or wildcard: a dataset job."""
    return len(images) > 1 or any(glob.has_magic(image) or os.path.isdir(image) for image in images)


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
        type=int,
        metavar="K",
        help="local worker processes, each pinned to its cores (default: one per physical core; 0: in this process)",
    )
    group.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster (tcp://host:8786)")
    group.add_argument(
        "--restart", action="store_true", help="start over a store in --out that holds another job (otherwise refused)"
    )
    group.add_argument("--overlays", action="store_true", help="also write one overlay PNG per image and channel")
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
    progress: bool,
) -> int:
    """Run the job; exit status 0, or 1 when some images failed (they are listed)."""
    from .worker_start import start_local_workers_early

    start_local_workers_early(args.workers, args.scheduler, None)
    from ..image._imageio import imwrite  # Zarr and Dask are the [datasets] extra: imported only when used
    from .channels import LABELS, PREDICTED, channel_plan
    from .datastore import imageDatastore
    from .explain import job_options
    from .export import storeToMat
    from .job import run_job
    from .network import built_network, describe_network
    from .pictures import overview, write_overlays
    from .sources import image_list
    from .store import MapStore

    given_output = getattr(args, "OutputNames", None)
    output_names = None if given_output is None else [given_output]
    description = describe_network(
        args.model, output_names=output_names, channel_order=args.channel_order, **import_options
    )
    net = built_network(description)
    if len(net.OutputNames) != 1:
        raise ValueError(
            f"the network has {len(net.OutputNames)} outputs ({', '.join(net.OutputNames)}); "
            f"choose one with --output-names."
        )
    images = image_list(list(args.image))
    options = job_options((), occlusion_kwargs)
    if args.per_image == LABELS:
        images = image_list(imageDatastore(list(args.image), LabelSource="foldernames"))
    plan = channel_plan(
        (args.per_image or PREDICTED) if channels is None else channels,
        len(images),
        net.output_channels(net.OutputNames[0]),
        images.labels,
        classes,
    )
    say(f"{len(images)} images into {Path(args.out) / 'occlusion.zarr'}")
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
    )
    if summary.skipped:
        say(f"resumed: {summary.skipped} of {summary.total} images were already complete")
    result(
        f"wrote {summary.store} ({summary.computed} maps computed, {summary.skipped} already there, "
        f"{len(summary.failures)} failed)"
    )
    store = MapStore(summary.store, mode="r")
    if args.overlays:
        for path in write_overlays(store, images.entries, images.names, net.InputSize, Path(args.out) / "overlays"):
            result(f"wrote {path}")
    if args.overview:
        target = Path(args.out) / "overview.png"
        imwrite(overview(store, images.entries, net.InputSize, classes), target)
        result(f"wrote {target}")
    if args.mat:
        result(f"wrote {storeToMat(args.out, Path(args.out) / 'occlusion.mat')}")
    for index, reason in sorted(summary.failures.items()):
        say(f"failed: image {index + 1} ({images.names[index]}): {reason}")
    return 1 if summary.failures else 0
